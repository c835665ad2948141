/* Mirrors of the Fluent Bit structures a Go output plugin is handed or
 * fills, in their field order (include/fluent-bit/flb_api.h,
 * src/proxy/go/go.h, include/fluent-bit/flb_plugin_proxy.h,
 * include/fluent-bit/flb_config_map.h), and the plugin's C helpers
 * (host.c). Offsets are for x86-64 Linux (LP64); docs/design.md lists
 * them per Fluent Bit version. */
#ifndef NEWTERMS_FLBAPI_H
#define NEWTERMS_FLBAPI_H

#include <stddef.h>
#include <stdint.h>

/* struct flb_api: its seven leading members, the same in 2.0 to 5.1
 * (later versions append: 4.0.3 added two custom_* members, 72 bytes in
 * all; 3.2 has 56). Fluent Bit fills it with malloc, not calloc: a member
 * it did not assign holds garbage, hence the identity checks in host.c. */
struct nt_flb_api {
    const char *(*output_get_property)(const char *, void *);
    const char *(*input_get_property)(const char *, void *);
    void *(*output_get_cmt_instance)(void *);
    void *(*input_get_cmt_instance)(void *);
    void (*log_print)(int, const char *, int, const char *, ...);
    int (*input_log_check)(void *, int);
    int (*output_log_check)(void *, int);
};

/* struct flbgo_output_plugin: one per loaded .so, shared by its instances;
 * o_ins is the instance whose init runs now. */
struct nt_output_plugin {
    void *_;
    struct nt_flb_api *api;
    void *o_ins;
    void *context;
};

/* struct flb_plugin_proxy_def. config_map exists from Fluent Bit 5.1.1
 * only (48 bytes; 40 from 4.2.3 with event_type, 32 before, malloc'ed). */
struct nt_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
    int event_type;
    void *config_map;
};

/* struct flb_config_map as of Fluent Bit 5.0.3 (104 bytes; 96 before:
 * struct flb_config_map_val gained `raw`). A host that walks the array
 * with another size is caught by the layout gate in host.c. */
struct nt_config_map {
    int type;             /* FLB_CONFIG_MAP_STR = 0 */
    char *name;
    char *def_value;
    int flags;
    int set_property;
    uintptr_t offset;
    char *desc;
    unsigned char value[40]; /* struct flb_config_map_val */
    void *head[2];           /* struct mk_list _head */
};

/* Fluent Bit log levels. */
#define NT_LOG_ERROR 1
#define NT_LOG_WARN  2
#define NT_LOG_INFO  3
#define NT_LOG_DEBUG 4

static inline void *nt_api(void *plugin) { return ((struct nt_output_plugin *) plugin)->api; }
static inline void *nt_ins(void *plugin) { return ((struct nt_output_plugin *) plugin)->o_ins; }

/* nt_set_context sets the instance's remote_context, the first member of
 * struct flb_plugin_proxy_context, which Fluent Bit hands back to
 * FLBPluginFlushCtx and FLBPluginExitCtx. */
static inline void nt_set_context(void *plugin, void *ctx)
{
    *(void **) ((struct nt_output_plugin *) plugin)->context = ctx;
}

/* host.c */

/* nt_log prints through Fluent Bit's own logger, honouring the instance's
 * log_level; without one it writes to stderr. */
void nt_log(void *api, void *ins, int level, const char *msg);

/* Metric types. */
#define NT_COUNTER   0
#define NT_GAUGE     1
#define NT_HISTOGRAM 2

/* nt_cmt_instance returns the instance's cmetrics context, or NULL with
 * the reason in *why. */
void *nt_cmt_instance(void *api, void *ins, const char **why);
const char *nt_output_name(void *ins);
void *nt_metric_create(void *cmt, int type, const char *ns, const char *subsystem, const char *name,
                       const char *help, int nlabels, char **keys, const double *bounds, int nbounds);

/* One series to publish: its metric, type and label values. */
struct nt_series {
    void *metric;
    int type;
    int nlabels;
    char **labels;
};
/* nt_publish sets every series (histograms excepted) from values; it
 * returns the number of calls the library refused. */
int nt_publish(struct nt_series *series, int n, const double *values, uint64_t ts);
int nt_hist_set(struct nt_series *s, uint64_t ts, uint64_t *buckets, double sum, uint64_t count);

/* nt_host_version writes the Fluent Bit version into out, or returns -1. */
int nt_host_version(char *out, size_t n);

/* nt_config_map hands Fluent Bit the plugin's keys if the host provably
 * has the field for them. */
#define NT_MAP_REGISTERED  1
#define NT_MAP_NO_SYMBOLS  -1
#define NT_MAP_NO_ROOM     -2
#define NT_MAP_LAYOUT      -3
#define NT_MAP_NO_MEMORY   -4
int nt_config_map(void *def, char **names, char **descs, int n);

#endif
