#ifndef USER_RPC_CSQLITE_SHIM_H
#define USER_RPC_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
