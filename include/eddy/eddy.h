/**
 * @file eddy.h
 * @brief The umbrella header: includes every public eddy header.
 */
#ifndef EDDY_H
#define EDDY_H

#include "eddy/common.h"
#include "eddy/config.h"
#include "eddy/dev_kafka.h"
#include "eddy/logging.h"
#include "eddy/log.h"
#include "eddy/serde.h"
#include "eddy/store.h"

#endif
