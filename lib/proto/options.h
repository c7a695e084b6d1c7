/* options.h -- option validation (internal). */
#ifndef CLUSTERC_OPTIONS_H
#define CLUSTERC_OPTIONS_H
#include "clusterc/clusterc.h"
#include "errors.h"

/* 0 if the options can be used; else -1 with err naming the option. */
int clusterc__options_check(const clusterc_options *o, clusterc__err *err);

/* Overwrite n bytes with zeros in a way the compiler may not drop (memory
 * that held a password, about to be freed). */
void clusterc__secret_wipe(void *p, size_t n);
/* Wipe the NUL-terminated s, then free it (NULL-safe). */
void clusterc__secret_free(char *s);
#endif
