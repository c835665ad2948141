/* The plugin's side of the Fluent Bit ABI beyond what fluent-bit-go
 * does: Fluent Bit's logger, its cmetrics (resolved at run time from the
 * executable, which exports them), its version, and the config_map of
 * Fluent Bit 5.1.1. Everything here checks what it relies on before it
 * relies on it: see docs/design.md for each check and the versions it was
 * established against. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flbapi.h"

_Static_assert(offsetof(struct nt_proxy_def, config_map) == 40, "struct flb_plugin_proxy_def layout");
_Static_assert(sizeof(struct nt_config_map) == 104, "struct flb_config_map layout (5.0.3+)");
_Static_assert(offsetof(struct nt_config_map, desc) == 40, "struct flb_config_map layout");

/* The host's exports, resolved once. dlsym(RTLD_DEFAULT) finds them in the
 * fluent-bit executable, linked with its symbols exported; in another host
 * (the test harness, an embedding without them) they are NULL. */
static struct {
    void (*log_print)(int, const char *, int, const char *, ...);
    int (*output_log_check)(void *, int);
    void *(*output_get_cmt_instance)(void *);
    const char *(*output_name)(void *);
    void *(*counter_create)(void *, char *, char *, char *, char *, int, char **);
    int (*counter_set)(void *, uint64_t, double, int, char **);
    void *(*gauge_create)(void *, char *, char *, char *, char *, int, char **);
    int (*gauge_set)(void *, uint64_t, double, int, char **);
    void *(*buckets_create_size)(double *, size_t);
    void *(*histogram_create)(void *, char *, char *, char *, char *, void *, int, char **);
    int (*histogram_set_default)(void *, uint64_t, uint64_t *, double, uint64_t, int, char **);
    void *(*context_get)(void);
    int (*fluentbit_add)(void *, void *);
    void *(*cmt_create)(void);
    void (*cmt_destroy)(void *);
    char *(*encode_prometheus)(void *, int);
    void (*encode_prometheus_destroy)(char *);
    void *(*config_map_create)(void *, void *);
    void (*config_map_destroy)(void *);
} host;

static pthread_once_t resolved = PTHREAD_ONCE_INIT;

static void resolve(void)
{
#define SYM(field, name) *(void **) &host.field = dlsym(RTLD_DEFAULT, name)
    SYM(log_print, "flb_log_print");
    SYM(output_log_check, "flb_output_log_check");
    SYM(output_get_cmt_instance, "flb_output_get_cmt_instance");
    SYM(output_name, "flb_output_name");
    SYM(counter_create, "cmt_counter_create");
    SYM(counter_set, "cmt_counter_set");
    SYM(gauge_create, "cmt_gauge_create");
    SYM(gauge_set, "cmt_gauge_set");
    SYM(buckets_create_size, "cmt_histogram_buckets_create_size");
    SYM(histogram_create, "cmt_histogram_create");
    SYM(histogram_set_default, "cmt_histogram_set_default");
    SYM(context_get, "flb_context_get");
    SYM(fluentbit_add, "flb_metrics_fluentbit_add");
    SYM(cmt_create, "cmt_create");
    SYM(cmt_destroy, "cmt_destroy");
    SYM(encode_prometheus, "cmt_encode_prometheus_create");
    SYM(encode_prometheus_destroy, "cmt_encode_prometheus_destroy");
    SYM(config_map_create, "flb_config_map_create");
    SYM(config_map_destroy, "flb_config_map_destroy");
#undef SYM
}

static void resolve_once(void) { pthread_once(&resolved, resolve); }

/* A member of struct flb_api is used only if it is the function the host
 * exports under that name: Fluent Bit allocates the table without zeroing
 * it, so a member it did not set (one compiled out, or past the end of an
 * older, shorter table) holds garbage. A host that exports no such
 * function (not Fluent Bit: the harness) is trusted when the member is
 * set. */
static int is_host_fn(void *member, void *exported)
{
    return member != NULL && (exported == NULL || member == exported);
}

void nt_log(void *api_p, void *ins, int level, const char *msg)
{
    struct nt_flb_api *api = api_p;
    resolve_once();
    if (api != NULL && is_host_fn((void *) api->log_print, (void *) host.log_print)) {
        if (ins != NULL && is_host_fn((void *) api->output_log_check, (void *) host.output_log_check) &&
            !api->output_log_check(ins, level)) {
            return;
        }
        api->log_print(level, NULL, 0, "[output:newterms] %s", msg);
        return;
    }
    fprintf(stderr, "[output:newterms] %s\n", msg);
}

void *nt_cmt_instance(void *api_p, void *ins, const char **why)
{
    struct nt_flb_api *api = api_p;
    void *cmt;
    resolve_once();
    if (host.output_get_cmt_instance == NULL) {
        *why = "the host exports no flb_output_get_cmt_instance (not Fluent Bit, or built without metrics)";
        return NULL;
    }
    if (!host.output_name || !host.counter_create || !host.counter_set || !host.gauge_create || !host.gauge_set ||
        !host.buckets_create_size || !host.histogram_create || !host.histogram_set_default) {
        *why = "the host does not export the cmetrics functions used";
        return NULL;
    }
    if (api == NULL || (void *) api->output_get_cmt_instance != (void *) host.output_get_cmt_instance) {
        *why = "struct flb_api's output_get_cmt_instance is not the host's flb_output_get_cmt_instance";
        return NULL;
    }
    cmt = api->output_get_cmt_instance(ins);
    if (cmt == NULL) {
        *why = "the instance has no metrics context";
    }
    return cmt;
}

const char *nt_output_name(void *ins)
{
    resolve_once();
    return host.output_name != NULL ? host.output_name(ins) : NULL;
}

void *nt_metric_create(void *cmt, int type, const char *ns, const char *subsystem, const char *name,
                       const char *help, int nlabels, char **keys, const double *bounds, int nbounds)
{
    void *buckets;
    resolve_once();
    switch (type) {
    case NT_COUNTER:
        return host.counter_create(cmt, (char *) ns, (char *) subsystem, (char *) name, (char *) help, nlabels, keys);
    case NT_GAUGE:
        return host.gauge_create(cmt, (char *) ns, (char *) subsystem, (char *) name, (char *) help, nlabels, keys);
    case NT_HISTOGRAM:
        /* The histogram takes the buckets over, and copies the bounds. */
        buckets = host.buckets_create_size((double *) bounds, (size_t) nbounds);
        if (buckets == NULL) {
            return NULL;
        }
        return host.histogram_create(cmt, (char *) ns, (char *) subsystem, (char *) name, (char *) help, buckets, nlabels, keys);
    }
    return NULL;
}

int nt_publish(struct nt_series *s, int n, const double *values, uint64_t ts)
{
    int refused = 0;
    for (int i = 0; i < n; i++) {
        int rc = 0;
        switch (s[i].type) {
        case NT_COUNTER:
            rc = host.counter_set(s[i].metric, ts, values[i], s[i].nlabels, s[i].labels);
            break;
        case NT_GAUGE:
            rc = host.gauge_set(s[i].metric, ts, values[i], s[i].nlabels, s[i].labels);
            break;
        }
        if (rc != 0) {
            refused++;
        }
    }
    return refused;
}

int nt_hist_set(struct nt_series *s, uint64_t ts, uint64_t *buckets, double sum, uint64_t count)
{
    return host.histogram_set_default(s->metric, ts, buckets, sum, count, s->nlabels, s->labels);
}

/* struct flb_lib_ctx { int status; void *event_loop; void *event_channel;
 * struct flb_config *config; }: the same since 2020. */
#define LIB_CTX_CONFIG_OFFSET 24

int nt_host_version(char *out, size_t n)
{
    void *ctx, *config, *tmp;
    char *text, *p, *e;
    int rc = -1;
    resolve_once();
    if (!host.context_get || !host.fluentbit_add || !host.cmt_create || !host.cmt_destroy ||
        !host.encode_prometheus || !host.encode_prometheus_destroy) {
        return -1;
    }
    /* Thread-local: set on the pipeline thread, where init runs. */
    ctx = host.context_get();
    if (ctx == NULL) {
        return -1;
    }
    config = *(void **) ((char *) ctx + LIB_CTX_CONFIG_OFFSET);
    if (config == NULL) {
        return -1;
    }
    tmp = host.cmt_create();
    if (tmp == NULL) {
        return -1;
    }
    host.fluentbit_add(config, tmp);
    text = host.encode_prometheus(tmp, 0);
    p = text != NULL ? strstr(text, "fluentbit_build_info{") : NULL;
    if (p != NULL) {
        p = strstr(p, "version=\"");
    }
    if (p != NULL) {
        p += strlen("version=\"");
        e = strchr(p, '"');
        if (e != NULL && (size_t) (e - p) < n) {
            memcpy(out, p, (size_t) (e - p));
            out[e - p] = '\0';
            rc = 0;
        }
    }
    if (text != NULL) {
        host.encode_prometheus_destroy(text);
    }
    host.cmt_destroy(tmp);
    return rc;
}

struct nt_mk_list {
    struct nt_mk_list *prev, *next;
};

/* The layout gate: the host's own flb_config_map_create must read n
 * entries from a names-only array laid out as struct nt_config_map, with
 * zeros after it. A host whose struct flb_config_map has another size
 * meets a NULL name early (every other byte is zero) and counts fewer. */
static int layout_ok(char **names, int n)
{
    struct nt_config_map *probe = calloc(1, (size_t) (n + 1) * sizeof *probe + 1024);
    struct nt_mk_list *list, *h;
    int count = 0;
    if (probe == NULL) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        probe[i].name = names[i];
    }
    /* Without default values the host never reads its config argument. */
    list = host.config_map_create(NULL, probe);
    if (list != NULL) {
        for (h = list->next; h != list; h = h->next) {
            count++;
        }
        host.config_map_destroy(list);
    }
    free(probe);
    return count == n;
}

/* The map handed to Fluent Bit: it keeps the pointer, and the names'
 * descriptions, for the life of the process (a hot reload registers again
 * before the old plugin is gone), so it is made once and never freed. */
static struct nt_config_map *config_map;
static pthread_mutex_t config_map_mu = PTHREAD_MUTEX_INITIALIZER;

int nt_config_map(void *def_p, char **names, char **descs, int n)
{
    struct nt_proxy_def *def = def_p;
    int rc = NT_MAP_REGISTERED;
    resolve_once();
    /* Symbols first: malloc_usable_size is only meaningful for a block
     * from malloc, which Fluent Bit's def is (flb_malloc or flb_calloc in
     * every version); another host may hand anything. */
    if (host.config_map_create == NULL || host.config_map_destroy == NULL || n < 2) {
        return NT_MAP_NO_SYMBOLS;
    }
    /* The memory gate: room for the field in the host's block. */
    if (malloc_usable_size(def) < offsetof(struct nt_proxy_def, config_map) + sizeof(void *)) {
        return NT_MAP_NO_ROOM;
    }
    if (!layout_ok(names, n)) {
        return NT_MAP_LAYOUT;
    }
    pthread_mutex_lock(&config_map_mu);
    if (config_map == NULL) {
        config_map = calloc((size_t) n + 1, sizeof *config_map);
        for (int i = 0; config_map != NULL && i < n; i++) {
            config_map[i].name = names[i];
            config_map[i].desc = descs[i];
        }
    }
    if (config_map == NULL) {
        rc = NT_MAP_NO_MEMORY;
    } else {
        def->config_map = config_map;
    }
    pthread_mutex_unlock(&config_map_mu);
    return rc;
}
