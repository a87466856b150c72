/*
 * pgerp core: module set-up, the verified session identity, who the caller
 * is, the kept-plan helper and the helpers that run catalogue work as the
 * extension owner.  Core calls no higher layer: those register callbacks.
 */
#ifndef PGERP_CORE_H
#define PGERP_CORE_H

#include "postgres.h"

/* session.c: the acting user and company, set only by verified C code */
extern void SessionInit(void);
extern int64 SessionUserId(void);		/* 0 when nobody is signed in */
extern int64 SessionCompanyId(void);	/* 0 when no company is chosen */
extern void SessionSet(int64 user_id, int64 company_id, bool local);
extern void SessionClear(void);
extern void SessionSetCompany(int64 company_id);
extern bool SessionLocalActive(void);
extern void SessionEndLocal(void);
extern void SessionClearNow(void);	/* sign out; no rollback undoes it */
extern void SessionUsers(int64 *session_user_id, int64 *local_user_id);

/* the whole acting state, for a caller that must restore it (rest) */
typedef struct SessionSnapshot
{
	int64		session_user_id;
	int64		session_company_id;
	int64		local_user_id;
	int64		local_company_id;
	bool		local_active;
} SessionSnapshot;
extern void SessionSnapshotTake(SessionSnapshot *snap);
extern void SessionSnapshotRestore(const SessionSnapshot *snap);

/* echo.c: a value cut to PGERP_ECHO_MAX characters for error messages */
#define PGERP_ECHO_MAX 64
extern char *PgerpEcho(const char *value);

/* owner.c: run catalogue reads as the extension owner with a safe search_path */
typedef struct OwnerContext
{
	Oid			saved_user;
	int			saved_sec;
	int			guc_level;
} OwnerContext;
extern Oid	ErpRelid(const char *relname, bool missing_ok);
extern Oid	ErpOwner(void);
extern void OwnerContextBegin(OwnerContext *ctx);
extern void OwnerContextEnd(OwnerContext *ctx);

/*
 * caller.c: "who is the caller", for every layer.  The caller is the role
 * outside any SECURITY DEFINER function (GetOuterUserId(), so SET ROLE
 * counts), or, while a job runs, the role that enqueued it.
 */
extern Oid	CallerRole(void);
extern bool CallerIsSuperuser(void);
typedef Oid (*CallerRoleHook) (void);	/* InvalidOid: no opinion */
extern void CallerRegisterRoleHook(CallerRoleHook hook);	/* jobs: the run_as role */

/* spi.c: the one helper that prepares and keeps SPI plans */
#include "executor/spi.h"
extern SPIPlanPtr PgerpKeptPlan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes);
extern SPIPlanPtr PgerpKeptCustomPlan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes);
extern SPIPlanPtr PgerpKeptPlanWith(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes,
									 int cursor_options);

/*
 * session.c: callbacks of higher layers run whenever the acting identity
 * changes or is restored by an abort (rbac re-points its ACL cache).  Only
 * statics may be touched: they can run while a transaction aborts.
 */
typedef void (*SessionChangeCallback) (void);
extern void SessionRegisterChangeCallback(SessionChangeCallback cb);

#endif
