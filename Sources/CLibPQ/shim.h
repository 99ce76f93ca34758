#ifndef USER_RPC_CLIBPQ_SHIM_H
#define USER_RPC_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
