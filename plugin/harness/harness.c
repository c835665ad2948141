/* harness: loads a Fluent Bit Go output plugin (.so) exactly as Fluent
 * Bit's Go proxy does (src/flb_plugin_proxy.c, src/proxy/go/go.c) and
 * feeds it chunk files, so that the real shared library is tested without
 * Fluent Bit. Test use only.
 *
 *   harness -so PLUGIN.so -props FILE [-props FILE ...] [-threads N]
 *           [-tag TAG] [-metrics] [-linger MS] [CHUNK ...]
 *
 * Each -props file configures one instance ("key value" per line, '#'
 * comments; log_level error|warn|info|debug; alias). Every chunk goes to
 * every instance; N threads call FlushCtx concurrently, as `workers N`
 * does. Prints "init <i> rc <rc>", "flush <chunk> <i> rc <rc>",
 * "exit <i> rc <rc>", and "flushed <n> chunks in <ns> ns, <ns> ns in
 * FlushCtx": the flushing phase (reading the chunk files included), and
 * the time spent inside the plugin's flush calls alone, summed over
 * threads.
 *
 * With -metrics the harness is also a cmetrics host, as Fluent Bit is: it
 * exports the functions the plugin resolves (link with -rdynamic) and
 * hands each instance a context through struct flb_api. It enforces what
 * Fluent Bit cannot: a series created after the instance's init, or any
 * call once its exit has returned (Fluent Bit has destroyed the context
 * then), aborts. After each exit it prints the instance's series as
 * "metric <name>{labels} <value>". -linger keeps the process (and the
 * plugin's goroutines) alive that long after the last exit.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* struct flb_api, leading members in Fluent Bit's order. Written out here
 * from Fluent Bit's headers rather than shared with plugin/flbapi.h: the
 * harness stands in for Fluent Bit, so a plugin-side mistake must not be
 * repeated on this side. */
struct flb_api {
    const char *(*output_get_property)(const char *, void *);
    const char *(*input_get_property)(const char *, void *);
    void *(*output_get_cmt_instance)(void *);
    void *(*input_get_cmt_instance)(void *);
    void (*log_print)(int, const char *, int, const char *, ...);
    int (*input_log_check)(void *, int);
    int (*output_log_check)(void *, int);
    const char *(*custom_get_property)(const char *, void *);
    int (*custom_log_check)(void *, int);
};

/* As of Fluent Bit 5.1.1; older versions end before event_type (4.2.2
 * and older: 32 bytes) or config_map (40 bytes): -def-size allocates
 * those sizes. */
struct flb_plugin_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
    int event_type;
    void *config_map;
};

/* The host's flb_config_map_create, walking the plugin's array with the
 * stride of a host's struct flb_config_map (-map-stride: 104 from 5.0.3,
 * 96 before): what the plugin's layout gate asks of the host. */
struct mk_list {
    struct mk_list *prev, *next;
};

static size_t map_stride = 104;

void *flb_config_map_create(void *config, void *map)
{
    struct mk_list *list = calloc(1, sizeof *list);
    char *m = map;
    (void) config;
    list->prev = list->next = list;
    /* Each entry: int type, then its name at offset 8. */
    while (*(char **) (m + 8) != NULL) {
        struct mk_list *node = calloc(1, sizeof *node);
        node->prev = list->prev;
        node->next = list;
        list->prev->next = node;
        list->prev = node;
        m += map_stride;
    }
    return list;
}

void flb_config_map_destroy(void *l)
{
    struct mk_list *list = l, *h = list->next;
    while (h != list) {
        struct mk_list *next = h->next;
        free(h);
        h = next;
    }
    free(list);
}

struct flb_plugin_proxy_context {
    void *remote_context;
    void *proxy;
};

struct flbgo_output_plugin {
    void *_;
    struct flb_api *api;
    void *o_ins;
    struct flb_plugin_proxy_context *context;
};

/* The harness's cmetrics: a context per instance, its metrics and their
 * series, in the shapes the plugin's calls need. */
#define MAX_METRICS 64
#define MAX_SERIES 256
#define MAX_LABELS 8
#define MAX_BUCKETS 32
enum { FAKE_COUNTER, FAKE_GAUGE, FAKE_HISTOGRAM };

struct fake_buckets {
    size_t count;
    double bounds[MAX_BUCKETS];
};

struct fake_cmt;

struct fake_metric {
    struct fake_cmt *cmt;
    int type;
    char name[192];
    int nlabels;
    char *keys[MAX_LABELS];
    struct fake_buckets *buckets;
};

struct fake_series {
    struct fake_metric *m;
    char *vals[MAX_LABELS];
    double value;
    uint64_t bucket[MAX_BUCKETS + 1];
    double sum;
    uint64_t count;
};

struct fake_cmt {
    int index;
    int initialized; /* the instance's init returned: no new series */
    int dead;        /* its exit returned: no call at all */
    int nmetrics, nseries;
    struct fake_metric metrics[MAX_METRICS];
    struct fake_series series[MAX_SERIES];
    pthread_mutex_t mu;
};

/* The harness's stand-in for struct flb_output_instance. */
#define MAX_PROPS 64
struct instance {
    int n;
    char *keys[MAX_PROPS];
    char *vals[MAX_PROPS];
    int log_level;
    struct flb_plugin_proxy_context ctx;
    char name[64];
    struct fake_cmt cmt;
};

static void die(const char *what, struct fake_cmt *cmt)
{
    fprintf(stderr, "harness: metrics of instance %d: %s\n", cmt->index, what);
    fflush(stderr);
    abort();
}

void *flb_output_get_cmt_instance(void *ins)
{
    return &((struct instance *) ins)->cmt;
}

const char *flb_output_name(void *ins)
{
    return ((struct instance *) ins)->name;
}

static struct fake_metric *fake_create(void *cmt_p, int type, char *ns, char *sub, char *name,
                                       int nlabels, char **keys, struct fake_buckets *b)
{
    struct fake_cmt *cmt = cmt_p;
    struct fake_metric *m;
    pthread_mutex_lock(&cmt->mu);
    if (cmt->dead) die("a metric created after exit", cmt);
    if (cmt->initialized) die("a metric created after init", cmt);
    if (cmt->nmetrics == MAX_METRICS || nlabels > MAX_LABELS) die("too many metrics or labels", cmt);
    m = &cmt->metrics[cmt->nmetrics++];
    m->cmt = cmt;
    m->type = type;
    snprintf(m->name, sizeof m->name, "%s_%s_%s", ns, sub, name);
    m->nlabels = nlabels;
    for (int i = 0; i < nlabels; i++) m->keys[i] = strdup(keys[i]);
    m->buckets = b;
    pthread_mutex_unlock(&cmt->mu);
    return m;
}

/* series finds (or, during init only, creates) a series; under cmt->mu. */
static struct fake_series *series(struct fake_metric *m, int nlabels, char **vals)
{
    struct fake_cmt *cmt = m->cmt;
    if (cmt->dead) die("a series set after exit", cmt);
    if (nlabels != m->nlabels) die("a label count that differs from the keys'", cmt);
    for (int i = 0; i < cmt->nseries; i++) {
        struct fake_series *s = &cmt->series[i];
        int same = s->m == m;
        for (int j = 0; same && j < nlabels; j++) same = strcmp(s->vals[j], vals[j]) == 0;
        if (same) return s;
    }
    if (cmt->initialized) die("a series created after init", cmt);
    if (cmt->nseries == MAX_SERIES) die("too many series", cmt);
    struct fake_series *s = &cmt->series[cmt->nseries++];
    s->m = m;
    for (int j = 0; j < nlabels; j++) s->vals[j] = strdup(vals[j]);
    return s;
}

void *cmt_counter_create(void *cmt, char *ns, char *sub, char *name, char *help, int n, char **keys)
{
    (void) help;
    return fake_create(cmt, FAKE_COUNTER, ns, sub, name, n, keys, NULL);
}

void *cmt_gauge_create(void *cmt, char *ns, char *sub, char *name, char *help, int n, char **keys)
{
    (void) help;
    return fake_create(cmt, FAKE_GAUGE, ns, sub, name, n, keys, NULL);
}

void *cmt_histogram_buckets_create_size(double *bounds, size_t count)
{
    struct fake_buckets *b = calloc(1, sizeof *b);
    if (count > MAX_BUCKETS) return NULL;
    b->count = count;
    memcpy(b->bounds, bounds, count * sizeof *bounds);
    return b;
}

void *cmt_histogram_create(void *cmt, char *ns, char *sub, char *name, char *help, void *buckets, int n, char **keys)
{
    (void) help;
    return fake_create(cmt, FAKE_HISTOGRAM, ns, sub, name, n, keys, buckets);
}

static int fake_set(void *metric, int type, double val, int n, char **vals)
{
    struct fake_metric *m = metric;
    pthread_mutex_lock(&m->cmt->mu);
    if (m->type != type) die("a set of another type", m->cmt);
    struct fake_series *s = series(m, n, vals);
    /* cmt_counter_set refuses a value lower than the counter's */
    int rc = type == FAKE_COUNTER && val < s->value ? -1 : 0;
    if (rc == 0) s->value = val;
    pthread_mutex_unlock(&m->cmt->mu);
    return rc;
}

int cmt_counter_set(void *c, uint64_t ts, double val, int n, char **vals)
{
    (void) ts;
    return fake_set(c, FAKE_COUNTER, val, n, vals);
}

int cmt_gauge_set(void *g, uint64_t ts, double val, int n, char **vals)
{
    (void) ts;
    return fake_set(g, FAKE_GAUGE, val, n, vals);
}

int cmt_histogram_set_default(void *h, uint64_t ts, uint64_t *buckets, double sum, uint64_t count, int n, char **vals)
{
    struct fake_metric *m = h;
    (void) ts;
    pthread_mutex_lock(&m->cmt->mu);
    if (m->type != FAKE_HISTOGRAM) die("a histogram set on another type", m->cmt);
    struct fake_series *s = series(m, n, vals);
    /* As cmetrics does: count + 1 values, the last one +Inf. */
    memcpy(s->bucket, buckets, (m->buckets->count + 1) * sizeof *buckets);
    s->sum = sum;
    s->count = count;
    pthread_mutex_unlock(&m->cmt->mu);
    return 0;
}

static void print_labels(struct fake_series *s, const char *le)
{
    printf("{");
    for (int j = 0; j < s->m->nlabels; j++) printf("%s%s=\"%s\"", j ? "," : "", s->m->keys[j], s->vals[j]);
    if (le) printf(",le=\"%s\"", le);
    printf("}");
}

static void print_metrics(struct fake_cmt *cmt)
{
    char le[32];
    pthread_mutex_lock(&cmt->mu);
    for (int i = 0; i < cmt->nseries; i++) {
        struct fake_series *s = &cmt->series[i];
        if (s->m->type != FAKE_HISTOGRAM) {
            printf("metric %s", s->m->name);
            print_labels(s, NULL);
            printf(" %.17g\n", s->value);
            continue;
        }
        for (size_t b = 0; b <= s->m->buckets->count; b++) {
            if (b < s->m->buckets->count) snprintf(le, sizeof le, "%g", s->m->buckets->bounds[b]);
            else strcpy(le, "+Inf");
            printf("metric %s_bucket", s->m->name);
            print_labels(s, le);
            printf(" %llu\n", (unsigned long long) s->bucket[b]);
        }
        printf("metric %s_count", s->m->name);
        print_labels(s, NULL);
        printf(" %llu\nmetric %s_sum", (unsigned long long) s->count, s->m->name);
        print_labels(s, NULL);
        printf(" %.17g\n", s->sum);
    }
    pthread_mutex_unlock(&cmt->mu);
}

static int (*cb_register)(void *);
static int (*cb_init)(void *);
static int (*cb_flush_ctx)(void *, const void *, size_t, char *);
static int (*cb_exit_ctx)(void *);

static const char *get_property(const char *key, void *ins_p)
{
    struct instance *ins = ins_p;
    for (int i = 0; i < ins->n; i++) {
        if (strcasecmp(ins->keys[i], key) == 0) {
            return ins->vals[i];
        }
    }
    return NULL;
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void log_print(int type, const char *file, int line, const char *fmt, ...)
{
    static const char *names[] = {"", "error", "warn", "info", "debug", "trace"};
    va_list ap;
    (void) file;
    (void) line;
    pthread_mutex_lock(&log_mu);
    fprintf(stderr, "[%s] ", type >= 1 && type <= 5 ? names[type] : "?");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&log_mu);
}

static int log_check(void *ins_p, int level)
{
    return level <= ((struct instance *) ins_p)->log_level;
}

static int parse_level(const char *s)
{
    if (strcasecmp(s, "error") == 0) return 1;
    if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0) return 2;
    if (strcasecmp(s, "debug") == 0) return 4;
    if (strcasecmp(s, "trace") == 0) return 5;
    return 3;
}

static int load_props(const char *path, struct instance *ins)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    if (f == NULL) {
        perror(path);
        return -1;
    }
    ins->log_level = 3;
    while (fgets(line, sizeof line, f) != NULL) {
        char *p = line, *k, *v;
        while (isspace((unsigned char) *p)) p++;
        if (*p == '#' || *p == '\0') continue;
        k = p;
        while (*p && !isspace((unsigned char) *p)) p++;
        if (*p) *p++ = '\0';
        while (isspace((unsigned char) *p)) p++;
        v = p;
        p = v + strlen(v);
        while (p > v && isspace((unsigned char) p[-1])) *--p = '\0';
        if (strcasecmp(k, "log_level") == 0) {
            ins->log_level = parse_level(v);
        }
        if (strcasecmp(k, "alias") == 0) {
            snprintf(ins->name, sizeof ins->name, "%s", v);
        }
        if (ins->n == MAX_PROPS) break;
        ins->keys[ins->n] = strdup(k);
        ins->vals[ins->n] = strdup(v);
        ins->n++;
    }
    fclose(f);
    return 0;
}

struct job {
    const char *path;
    int instance;
};

static struct job *jobs;
static int njobs, next_job;
static long long in_flush; /* ns inside cb_flush_ctx, under job_mu */
static pthread_mutex_t job_mu = PTHREAD_MUTEX_INITIALIZER;
static struct instance *instances;
static const char *tag = "cloudtrail";

static void *worker(void *arg)
{
    (void) arg;
    for (;;) {
        struct job j;
        FILE *f;
        long size;
        char *data, *tagbuf;
        int rc;

        pthread_mutex_lock(&job_mu);
        if (next_job == njobs) {
            pthread_mutex_unlock(&job_mu);
            return NULL;
        }
        j = jobs[next_job++];
        pthread_mutex_unlock(&job_mu);

        f = fopen(j.path, "rb");
        if (f == NULL) {
            perror(j.path);
            exit(3);
        }
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fseek(f, 0, SEEK_SET);
        data = malloc(size > 0 ? size : 1);
        if (size > 0 && fread(data, 1, size, f) != (size_t) size) {
            perror(j.path);
            exit(3);
        }
        fclose(f);
        /* As the proxy does: a NUL-terminated copy of the tag. */
        tagbuf = strdup(tag);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = cb_flush_ctx(instances[j.instance].ctx.remote_context, data, (size_t) size, tagbuf);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        pthread_mutex_lock(&job_mu);
        in_flush += (long long) (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
        pthread_mutex_unlock(&job_mu);
        free(tagbuf);
        /* The chunk is only valid during the call: poison it after. */
        memset(data, 0xc1, size);
        free(data);
        printf("flush %s %d rc %d\n", j.path, j.instance, rc);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    const char *so = NULL;
    const char *props[16];
    int nprops = 0, threads = 1, first_chunk = argc, with_metrics = 0, linger_ms = 0;
    size_t def_size = sizeof(struct flb_plugin_proxy_def);
    struct flb_api api = {0};
    struct flb_plugin_proxy_def *def;
    struct flbgo_output_plugin plugin = {0};
    void *h;
    pthread_t tids[64];
    int failed = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-so") == 0 && i + 1 < argc) {
            so = argv[++i];
        } else if (strcmp(argv[i], "-props") == 0 && i + 1 < argc && nprops < 16) {
            props[nprops++] = argv[++i];
        } else if (strcmp(argv[i], "-threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "-tag") == 0 && i + 1 < argc) {
            tag = argv[++i];
        } else if (strcmp(argv[i], "-metrics") == 0) {
            with_metrics = 1;
        } else if (strcmp(argv[i], "-linger") == 0 && i + 1 < argc) {
            linger_ms = atoi(argv[++i]);
        } else if (strcmp(argv[i], "-def-size") == 0 && i + 1 < argc) {
            def_size = (size_t) atoi(argv[++i]);
        } else if (strcmp(argv[i], "-map-stride") == 0 && i + 1 < argc) {
            map_stride = (size_t) atoi(argv[++i]);
        } else {
            first_chunk = i;
            break;
        }
    }
    if (so == NULL || nprops == 0 || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: harness -so PLUGIN.so -props FILE [-props FILE...] [-threads N] [-tag TAG] [CHUNK...]\n");
        return 2;
    }

    /* flb_plugin_proxy_create: dlopen and FLBPluginRegister. */
    h = dlopen(so, RTLD_LAZY);
    if (h == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 3;
    }
    cb_register = (int (*)(void *)) dlsym(h, "FLBPluginRegister");
    cb_init = (int (*)(void *)) dlsym(h, "FLBPluginInit");
    cb_flush_ctx = (int (*)(void *, const void *, size_t, char *)) dlsym(h, "FLBPluginFlushCtx");
    cb_exit_ctx = (int (*)(void *)) dlsym(h, "FLBPluginExitCtx");
    if (!cb_register || !cb_init || !cb_flush_ctx || !cb_exit_ctx) {
        fprintf(stderr, "missing FLBPlugin symbols\n");
        return 3;
    }
    /* Fluent Bit allocates the definition (flb_calloc in 4.2.3 on, of its
     * own size: a write past it is caught by -fsanitize or glibc). */
    if (def_size < offsetof(struct flb_plugin_proxy_def, event_type)) {
        fprintf(stderr, "-def-size: at least %zu\n", offsetof(struct flb_plugin_proxy_def, event_type));
        return 2;
    }
    def = calloc(1, def_size);
    if (cb_register(def) != 0 || def->type != 2 || def->proxy != 11 || def->name == NULL) {
        fprintf(stderr, "register: type %d proxy %d\n", def->type, def->proxy);
        return 3;
    }
    printf("register %s\n", def->name);
    if (def_size >= sizeof *def && def->config_map != NULL) {
        /* Read as 5.1.1 does: entries of 104 bytes, the name at 8, the
         * description at 40. */
        int n = 0;
        for (char *m = def->config_map; *(char **) (m + 8) != NULL; m += 104) {
            if (*(char **) (m + 40) == NULL) {
                fprintf(stderr, "config_map: %s has no description\n", *(char **) (m + 8));
                return 3;
            }
            n++;
        }
        printf("config_map %d keys\n", n);
    }

    api.output_get_property = get_property;
    api.log_print = log_print;
    api.output_log_check = log_check;
    if (with_metrics) {
        api.output_get_cmt_instance = flb_output_get_cmt_instance;
    }

    /* proxy_go_output_init, once per instance, on the one plugin struct. */
    instances = calloc(nprops, sizeof *instances);
    for (int i = 0; i < nprops; i++) {
        int rc;
        snprintf(instances[i].name, sizeof instances[i].name, "newterms.%d", i);
        instances[i].cmt.index = i;
        pthread_mutex_init(&instances[i].cmt.mu, NULL);
        if (load_props(props[i], &instances[i]) != 0) return 3;
        plugin.api = &api;
        plugin.o_ins = &instances[i];
        plugin.context = &instances[i].ctx;
        rc = cb_init(&plugin);
        pthread_mutex_lock(&instances[i].cmt.mu);
        instances[i].cmt.initialized = 1;
        pthread_mutex_unlock(&instances[i].cmt.mu);
        printf("init %d rc %d\n", i, rc);
        if (rc <= 0) failed = 1;
    }
    if (failed) return 1;

    njobs = (argc - first_chunk) * nprops;
    jobs = calloc(njobs > 0 ? njobs : 1, sizeof *jobs);
    for (int c = first_chunk, k = 0; c < argc; c++) {
        for (int i = 0; i < nprops; i++, k++) {
            jobs[k].path = argv[c];
            jobs[k].instance = i;
        }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int t = 0; t < threads; t++) pthread_create(&tids[t], NULL, worker, NULL);
    for (int t = 0; t < threads; t++) pthread_join(tids[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("flushed %d chunks in %lld ns, %lld ns in FlushCtx\n", njobs,
           (long long) (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec), in_flush);

    /* proxy_go_output_destroy: ExitCtx, as FLBPluginExitCtx is exported. */
    for (int i = 0; i < nprops; i++) {
        printf("exit %d rc %d\n", i, cb_exit_ctx(instances[i].ctx.remote_context));
        /* Fluent Bit destroys the instance's metrics context now. */
        print_metrics(&instances[i].cmt);
        pthread_mutex_lock(&instances[i].cmt.mu);
        instances[i].cmt.dead = 1;
        pthread_mutex_unlock(&instances[i].cmt.mu);
    }
    if (linger_ms > 0) {
        struct timespec d = {linger_ms / 1000, (linger_ms % 1000) * 1000000L};
        nanosleep(&d, NULL);
    }
    return 0;
}
