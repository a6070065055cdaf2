/* The disk spool (spool.h): stub until implemented. */
#include "config.h"

#include "spool.h"
