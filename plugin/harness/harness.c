/* harness: loads a Fluent Bit Go output plugin (.so) exactly as Fluent
 * Bit's Go proxy does (src/flb_plugin_proxy.c, src/proxy/go/go.c) and
 * feeds it chunk files, so that the real shared library is tested without
 * Fluent Bit. Test use only.
 *
 *   harness -so PLUGIN.so -props FILE [-props FILE ...] [-threads N]
 *           [-tag TAG] [CHUNK ...]
 *
 * Each -props file configures one instance ("key value" per line, '#'
 * comments; log_level error|warn|info|debug). Every chunk goes to every
 * instance; N threads call FlushCtx concurrently, as `workers N` does.
 * Prints "init <i> rc <rc>", "flush <chunk> <i> rc <rc>", "exit <i> rc <rc>",
 * and "flushed <n> chunks in <ns> ns, <ns> ns in FlushCtx": the flushing
 * phase (reading the chunk files included), and the time spent inside the
 * plugin's flush calls alone, summed over threads.
 */
#include <ctype.h>
#include <dlfcn.h>
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

struct flb_plugin_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
    void *spare[8]; /* room for members newer versions add */
};

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

/* The harness's stand-in for struct flb_output_instance. */
#define MAX_PROPS 64
struct instance {
    int n;
    char *keys[MAX_PROPS];
    char *vals[MAX_PROPS];
    int log_level;
    struct flb_plugin_proxy_context ctx;
};

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
    int nprops = 0, threads = 1, first_chunk = argc;
    struct flb_api api = {0};
    struct flb_plugin_proxy_def def;
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
    memset(&def, 0, sizeof def);
    if (cb_register(&def) != 0 || def.type != 2 || def.proxy != 11 || def.name == NULL) {
        fprintf(stderr, "register: type %d proxy %d\n", def.type, def.proxy);
        return 3;
    }
    printf("register %s\n", def.name);

    api.output_get_property = get_property;
    api.log_print = log_print;
    api.output_log_check = log_check;

    /* proxy_go_output_init, once per instance, on the one plugin struct. */
    instances = calloc(nprops, sizeof *instances);
    for (int i = 0; i < nprops; i++) {
        int rc;
        if (load_props(props[i], &instances[i]) != 0) return 3;
        plugin.api = &api;
        plugin.o_ins = &instances[i];
        plugin.context = &instances[i].ctx;
        rc = cb_init(&plugin);
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
    }
    return 0;
}
