/* SPDX-License-Identifier: MIT */
/*
 * icount.c -- a minimal valgrind tool for rtheap-latency's
 * instruction-count mode ("valgrind --tool=icount").
 *
 * It keeps one counter of guest instructions executed (added once per
 * superblock exit, so the count is exact whichever exit is taken) and
 * answers client requests from the program under test:
 *
 *   VG_USERREQ_TOOL_BASE('I','C') + 0   -> instructions executed so far
 *   VG_USERREQ_TOOL_BASE('I','C') + 1   start recording the cache lines
 *                                        touched; args: a range [lo, hi)
 *                                        counted apart (returns 0)
 *   VG_USERREQ_TOOL_BASE('I','C') + 2   stop; returns the number of
 *                                        distinct 64-byte lines loaded or
 *                                        stored since the start, leaving
 *                                        out the caller's stack (low 32
 *                                        bits), and of those outside the
 *                                        range (high 32 bits)
 *   VG_USERREQ_TOOL_BASE('I','C') + 3   copy the addresses of the lines
 *                                        recorded by the last start/stop
 *                                        (line number << 6) to args[1],
 *                                        at most args[2] of them; returns
 *                                        how many were recorded
 *
 * Line recording is instrumented only with --lines=yes.  The tool is
 * built and linked like valgrind's own tools (static, fixed load address)
 * against the tool libraries of the valgrind package.
 */
#include "pub_tool_basics.h"
#include "pub_tool_tooliface.h"
#include "pub_tool_libcprint.h"
#include "pub_tool_machine.h"
#include "pub_tool_libcbase.h"
#include "valgrind.h"

#define MAX_LINES 1024

static ULong icnt_count;
static Bool clo_lines = False;

static Bool track;
static Addr stack_lo, stack_hi;
static Addr lines[MAX_LINES];
static UInt nlines;
static UInt lines_overflow;

static Addr excl_lo, excl_hi;   /* a range counted apart (heap descriptor) */
static UInt nexcl;

static VG_REGPARM(1) void icnt_mem(Addr a)
{
	Addr l;
	if (!track || (a >= stack_lo && a < stack_hi))
		return;
	l = a >> 6;
	for (UInt i = 0; i < nlines; i++)
		if (lines[i] == l)
			return;
	if (nlines < MAX_LINES)
		lines[nlines++] = l;
	else
		lines_overflow++;
	if (a >= excl_lo && a < excl_hi)
		nexcl++;
}

static void add_pending(IRSB *sb, ULong n)
{
	IRTemp t1, t2;
	if (n == 0)
		return;
	t1 = newIRTemp(sb->tyenv, Ity_I64);
	t2 = newIRTemp(sb->tyenv, Ity_I64);
	addStmtToIRSB(sb, IRStmt_WrTmp(t1, IRExpr_Load(Iend_LE, Ity_I64,
		mkIRExpr_HWord((HWord)&icnt_count))));
	addStmtToIRSB(sb, IRStmt_WrTmp(t2, IRExpr_Binop(Iop_Add64,
		IRExpr_RdTmp(t1), IRExpr_Const(IRConst_U64(n)))));
	addStmtToIRSB(sb, IRStmt_Store(Iend_LE, mkIRExpr_HWord((HWord)&icnt_count),
		IRExpr_RdTmp(t2)));
}

static void add_mem(IRSB *sb, IRExpr *addr)
{
	/* ISO C has no function-to-object pointer cast: go through a union */
	union { void (*f)(Addr); void *o; } u;
	IRDirty *di;
	u.f = icnt_mem;
	di = unsafeIRDirty_0_N(1, "icnt_mem", VG_(fnptr_to_fnentry)(u.o),
	                       mkIRExprVec_1(addr));
	addStmtToIRSB(sb, IRStmt_Dirty(di));
}

static IRSB *icnt_instrument(VgCallbackClosure *closure, IRSB *in,
	const VexGuestLayout *layout, const VexGuestExtents *vge,
	const VexArchInfo *archinfo, IRType gwt, IRType hwt)
{
	IRSB *out = deepCopyIRSBExceptStmts(in);
	ULong pending = 0;
	Int i;
	(void)closure; (void)layout; (void)vge; (void)archinfo; (void)gwt; (void)hwt;
	for (i = 0; i < in->stmts_used; i++) {
		IRStmt *st = in->stmts[i];
		if (st == NULL || st->tag == Ist_NoOp)
			continue;
		if (st->tag == Ist_IMark)
			pending++;
		if (st->tag == Ist_Exit) {
			add_pending(out, pending);
			pending = 0;
		}
		if (clo_lines) {
			if (st->tag == Ist_WrTmp && st->Ist.WrTmp.data->tag == Iex_Load)
				add_mem(out, st->Ist.WrTmp.data->Iex.Load.addr);
			else if (st->tag == Ist_Store)
				add_mem(out, st->Ist.Store.addr);
			else if (st->tag == Ist_CAS)
				add_mem(out, st->Ist.CAS.details->addr);
			else if (st->tag == Ist_LoadG)
				add_mem(out, st->Ist.LoadG.details->addr);
			else if (st->tag == Ist_StoreG)
				add_mem(out, st->Ist.StoreG.details->addr);
		}
		addStmtToIRSB(out, st);
	}
	add_pending(out, pending);
	return out;
}

static Bool icnt_client_request(ThreadId tid, UWord *args, UWord *ret)
{
	if (!VG_IS_TOOL_USERREQ('I', 'C', args[0]))
		return False;
	switch (args[0] - VG_USERREQ_TOOL_BASE('I', 'C')) {
	case 0:
		*ret = (UWord)icnt_count;
		return True;
	case 1: {
		/* the caller's frame and everything the callee may push */
		Addr sp = VG_(get_SP)(tid);
		stack_lo = sp - 65536;
		stack_hi = sp + 4096;
		nlines = 0;
		lines_overflow = 0;
		nexcl = 0;
		excl_lo = (Addr)args[1];
		excl_hi = (Addr)args[2];
		track = True;
		*ret = 0;
		return True;
	}
	case 2:
		/* low 32 bits: all lines; high 32 bits: lines outside the range */
		track = False;
		*ret = (UWord)(nlines + lines_overflow) |
		       ((UWord)(nlines + lines_overflow - nexcl) << 32);
		return True;
	case 3: {
		Addr *dst = (Addr *)args[1];
		UInt n = nlines < (UInt)args[2] ? nlines : (UInt)args[2];
		for (UInt i = 0; i < n; i++)
			dst[i] = lines[i] << 6;
		*ret = (UWord)nlines;
		return True;
	}
	default:
		return False;
	}
}

static Bool icnt_process_cmd_line_option(const HChar *arg)
{
	if (VG_(strcmp)(arg, "--lines=yes") == 0)
		clo_lines = True;
	else if (VG_(strcmp)(arg, "--lines=no") == 0)
		clo_lines = False;
	else
		return False;
	return True;
}

static void icnt_print_usage(void)
{
	VG_(printf)("    --lines=no|yes    record the cache lines touched [no]\n");
}

static void icnt_print_debug_usage(void)
{
	VG_(printf)("    (none)\n");
}

static void icnt_post_clo_init(void) {}
static void icnt_fini(Int exitcode) { (void)exitcode; }

static void icnt_pre_clo_init(void)
{
	VG_(details_name)("icount");
	VG_(details_version)(NULL);
	VG_(details_description)("exact instruction counter with a client-request read-out");
	VG_(details_copyright_author)("rtheap project");
	VG_(details_bug_reports_to)("the rtheap project");
	VG_(basic_tool_funcs)(icnt_post_clo_init, icnt_instrument, icnt_fini);
	VG_(needs_client_requests)(icnt_client_request);
	VG_(needs_command_line_options)(icnt_process_cmd_line_option,
	                                icnt_print_usage, icnt_print_debug_usage);
}

VG_DETERMINE_INTERFACE_VERSION(icnt_pre_clo_init)
