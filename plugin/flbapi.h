/* Mirrors of the Fluent Bit structures a Go output plugin is handed, in
 * their field order (include/fluent-bit/flb_api.h, src/proxy/go/go.h).
 * Only the leading members of struct flb_api are declared: newer Fluent
 * Bit versions append members, never reorder them. */
#ifndef NEWTERMS_FLBAPI_H
#define NEWTERMS_FLBAPI_H

#include <stdio.h>

struct nt_flb_api {
    const char *(*output_get_property)(const char *, void *);
    const char *(*input_get_property)(const char *, void *);
    void *(*output_get_cmt_instance)(void *);
    void *(*input_get_cmt_instance)(void *);
    void (*log_print)(int, const char *, int, const char *, ...);
    int (*input_log_check)(void *, int);
    int (*output_log_check)(void *, int);
};

struct nt_output_plugin {
    void *_;
    struct nt_flb_api *api;
    void *o_ins;
    void *context;
};

/* Fluent Bit log levels. */
#define NT_LOG_ERROR 1
#define NT_LOG_WARN  2
#define NT_LOG_INFO  3
#define NT_LOG_DEBUG 4

static inline void *nt_api(void *plugin) { return ((struct nt_output_plugin *) plugin)->api; }
static inline void *nt_ins(void *plugin) { return ((struct nt_output_plugin *) plugin)->o_ins; }

/* nt_log prints through Fluent Bit's own logger, honouring the instance's
 * log_level; without one (an old Fluent Bit) it writes to stderr. */
static inline void nt_log(void *api_p, void *ins, int level, const char *msg)
{
    struct nt_flb_api *api = api_p;
    if (api != NULL && api->log_print != NULL) {
        if (api->output_log_check != NULL && ins != NULL && !api->output_log_check(ins, level)) {
            return;
        }
        api->log_print(level, NULL, 0, "[output:newterms] %s", msg);
        return;
    }
    fprintf(stderr, "[output:newterms] %s\n", msg);
}

#endif
