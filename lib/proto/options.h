/* options.h -- option validation (internal). */
#ifndef CLUSTERC_OPTIONS_H
#define CLUSTERC_OPTIONS_H
#include "clusterc/clusterc.h"
#include "errors.h"

/* 0 if the options can be used; else -1 with err naming the option. */
int clusterc__options_check(const clusterc_options *o, clusterc__err *err);
#endif
