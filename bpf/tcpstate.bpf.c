// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Every program's entry point. The logic they share lives in the headers:
 * maps.bpf.h (configuration, maps), sock_table.bpf.h (per-socket cookie,
 * owner, timing), emit.bpf.h (filters, records), sock_fd.bpf.h (fd to
 * socket), timewait.bpf.h (timewait sockets), core_fixes.bpf.h
 * (kernel-version differences). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "tcpstate.h"
#include "core_fixes.bpf.h"
#include "maps.bpf.h"
#include "sock_table.bpf.h"
#include "emit.bpf.h"
#include "sock_fd.bpf.h"
#include "timewait.bpf.h"

/* ---- state transitions ------------------------------------------------ */

/* Transitions that only a system call on the socket makes (connect, listen,
 * close, shutdown): the current task is the socket's owner. Everything else
 * may run in softirq, on behalf of whatever task was interrupted. */
static __always_inline bool syscall_transition(int oldstate, int newstate)
{
	return newstate == TCP_SYN_SENT || newstate == TCP_LISTEN ||
	       newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK ||
	       (oldstate == TCP_LISTEN && newstate == TCP_CLOSE);
}

/* A listener's owner, kept by the listening socket's address from its
 * listen() to its close. */
static __always_inline void listener_record(const struct sock *sk, const struct owner *o)
{
	__u64 key = addr_of(sk);

	if (bpf_map_update_elem(&listeners, &key, o, BPF_ANY))
		stat_inc(TS_STAT_LISTEN_FULL);
}

static __always_inline void listener_forget(const struct sock *sk)
{
	__u64 key = addr_of(sk);

	bpf_map_delete_elem(&listeners, &key);
}

/* A listener's child before accept(): owned, for now, by its own
 * listener's owner (not another listener's on the same port). */
static __always_inline void inherit_listener(const struct sock *sk, struct sock_info *si)
{
	__u64 key = child_listener(sk);
	struct owner *lo = key ? bpf_map_lookup_elem(&listeners, &key) : NULL;

	if (lo) {
		si->owner = *lo;
		si->owner.src = TS_OWNER_LISTENER;
		si->owner_dirty = 1;
	}
}

static __always_inline bool owner_same(const struct owner *a, const struct owner *b)
{
	const __u64 *x = (const __u64 *)a->comm, *y = (const __u64 *)b->comm;

	return a->pid == b->pid && a->src == b->src && a->cgroup_id == b->cgroup_id &&
	       x[0] == y[0] && x[1] == y[1];
}

static __always_inline void owner_set(struct sock_info *si, const struct owner *o)
{
	if (owner_same(&si->owner, o))
		return;
	si->owner = *o;
	si->owner_dirty = 1;
}

/* One transition out. si is the socket's entry (or a stand-in when there is
 * no room): what user space lacks of its identity and owner goes along,
 * and si remembers what went. */
static __always_inline void emit_state(const struct sock *sk, const struct sock_common *skc,
				       const struct sock_id *id, struct sock_info *si, __u64 ts,
				       int oldstate,
				       int newstate, __u64 last_ns, __u8 tw_substate, bool gap)
{
	struct ts_wire_ident ident = {};
	struct ts_wire w;

	wire_head(&w, TS_EV_STATE, ts, si->cookie);
	if (si->synth_cookie)
		w.flags |= TS_EVF_SYNTH_COOKIE;
	if (last_ns) {
		w.prev_state_ns = ts - last_ns;
		w.flags |= TS_EVF_PREV_KNOWN;
	}
	w.oldstate = oldstate;
	w.newstate = newstate;
	if (gap)
		w.flags |= TS_EVF_GAP;
	if (tw_substate) {
		w.newstate = TCP_TIME_WAIT;
		w.tw_substate = tw_substate;
		w.flags |= TS_EVF_TIMEWAIT;
	}
	/* connect() assigns the local address and port after SYN_SENT. */
	w.wflags = wire_parts(&w, oldstate == TCP_SYN_SENT ? 0 : si->ident_gen, si->owner_dirty);
	if (w.wflags & TS_WF_IDENT)
		wire_ident(&ident, sk, skc, id, sk_sport(sk), si->ino);
	if (!wire_send(&w, &si->owner, &ident))
		return;
	if (w.wflags & TS_WF_IDENT)
		si->ident_gen = w.drop_gen + 1;
	si->owner_dirty = 0;
}

static __always_inline bool child_birth(int oldstate, int newstate)
{
	return oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV;
}

enum history {
	HIST_OK,
	HIST_UNTRACKED,		/* no earlier transition kept: opened before tracing */
	HIST_GAP,		/* some transitions were not seen */
};

/* What the socket's history says of this transition: a birth starts it
 * afresh; a transition that does not start where the last one ended means
 * the kernel skipped some (classic tracepoints nest badly, and before 6.7
 * uncounted; tp_btf runs were seen missing, uncounted, on 6.18). An entry
 * that ended in CLOSE belongs to an earlier socket at this address: this
 * one's birth was not seen, and it must not take the old one's cookie. */
static __always_inline enum history check_history(struct sock_info *si, bool born, int oldstate)
{
	if (born) {
		/* An earlier socket at this address, or a reconnect: what was
		 * kept belongs to the past. */
		__builtin_memset(si, 0, sizeof(*si));
		return HIST_OK;
	}
	if (!si->last_ns)
		return HIST_UNTRACKED;
	if (si->state == TCP_CLOSE) {
		__builtin_memset(si, 0, sizeof(*si));
		return HIST_GAP;
	}
	return si->state == oldstate ? HIST_OK : HIST_GAP;
}

/* trusted: sk is the tp_btf argument (plain loads and the cookie helper
 * work), not the classic tracepoint's address. */
static __always_inline int handle_state(const struct sock *sk, int oldstate, int newstate,
					bool trusted)
{
	__u64 now = bpf_ktime_get_ns(), cookie = 0, last_ns, birth_ns = 0;
	bool born = oldstate == TCP_CLOSE || child_birth(oldstate, newstate);
	enum history hist;
	struct sock_info *si;
	const struct sock_common *skc;
	union skc_copy copy;
	struct owner cur;
	struct sock_id id;
	__u8 tw_substate = 0;

	/* tcp_close() sets FIN_WAIT2 again on a socket already there (5.10):
	 * not a transition. */
	if (oldstate == newstate)
		return 0;
	skc = skc_of(sk, trusted, &copy);
	sock_id(sk, skc, trusted, &id);
	if (id.family != TS_AF_INET && id.family != TS_AF_INET6)
		return 0;
	/* Another namespace's sockets never reach the output: they take no
	 * entry either (a busy neighbour pushed traced ones out). */
	if (filter_netns && id.netns != filter_netns)
		return 0;
	si = sock_entry_unnamed(sk);
	if (!si) {
		__u32 zero = 0;

		si = bpf_map_lookup_elem(&sock_spare, &zero);
		if (!si)
			return 0;
		__builtin_memset(si, 0, sizeof(*si));
	}
	hist = check_history(si, born, oldstate);
	if (child_birth(oldstate, newstate)) {
		/* inet_csk_clone_lock() sets the child's state before its
		 * cookie and remote address: the birth is reported with the
		 * next transition, when both are final. */
		inherit_listener(sk, si);
		si->last_ns = now;
		si->state = newstate;
		si->birth_pending = 1;
		return 0;
	}
	/* A child being born has no cookie of its own yet (see above). With
	 * TS_COOKIE_READ this branch is dead and the verifier never sees the
	 * helper, which kernels before 5.12 refuse in tracing programs. */
	if (trusted && cookie_mode == TS_COOKIE_HELPER && !si->cookie)
		cookie = bpf_get_socket_cookie((void *)sk);
	sock_set_cookie(si, skc, cookie);
	if (!si->ino)
		si->ino = sk_ino(sk);
	if (si->birth_pending) {
		si->birth_pending = 0;
		birth_ns = si->last_ns;
	}
	if (syscall_transition(oldstate, newstate) && current_owner(&cur)) {
		owner_set(si, &cur);
		if (newstate == TCP_LISTEN)
			listener_record(sk, &cur);
	}
	/* Whoever closes it: a listener's children are born above. */
	if (oldstate == TCP_LISTEN)
		listener_forget(sk);
	last_ns = si->last_ns;
	si->last_ns = now;
	si->state = newstate;

	/* FIN_WAIT1/FIN_WAIT2/CLOSING -> CLOSE may be the hand-over to a
	 * timewait socket: then the connection enters TIME_WAIT instead. */
	if (newstate == TCP_CLOSE && tw_timer_fn &&
	    (oldstate == TCP_FIN_WAIT1 || oldstate == TCP_FIN_WAIT2 || oldstate == TCP_CLOSING))
		tw_substate = tw_handoff(sk, skc, &id, si, now, last_ns);
	/* An orphan waiting for the peer's FIN in a timewait socket is still
	 * in FIN_WAIT2 (as ss says): nothing to report until the FIN, or the
	 * FIN_WAIT2 timeout (timewait.bpf.h). */
	if (tw_substate == TCP_FIN_WAIT2)
		return 0;

	if (!wanted(&id, si->owner.pid, 0, si->owner.in_cgroup))
		return 0;
	/* Counted for the sockets traced only, as the records they mark. */
	if (hist == HIST_UNTRACKED)
		stat_inc(TS_STAT_UNTRACKED);
	else if (hist == HIST_GAP)
		stat_inc(TS_STAT_GAPS);
	if (birth_ns)
		emit_state(sk, skc, &id, si, birth_ns, TCP_LISTEN, TCP_SYN_RECV, 0, 0, false);
	emit_state(sk, skc, &id, si, now, oldstate, newstate, last_ns, tw_substate,
		   hist == HIST_GAP);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(state_btf, struct sock *sk, int oldstate, int newstate)
{
	if (sk_protocol(sk, true) != IPPROTO_TCP)
		return 0;
	return handle_state(sk, oldstate, newstate, true);
}

SEC("tracepoint/sock/inet_sock_set_state")
int state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	return handle_state((const struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate, false);
}

/* ---- accept: the caller owns the new socket ---------------------------- */

/* Reported too: a peer may close before accept() returns, and this is the
 * first moment the socket has an inode and a descriptor. */
static __always_inline int record_accept(long ret)
{
	const struct sock_common *skc;
	struct sock_info *si;
	union skc_copy c;
	struct ts_wire w;
	struct owner o;
	struct sock *sk;

	if (ret < 0)
		return 0;
	sk = file_tcp_sock(fd_file((int)ret), &c, &skc);
	if (!sk || !current_owner(&o))
		return 0;
	si = sock_entry(sk, skc, 0);
	if (!si)
		return 0;
	/* Until this record is in the ring, a transition that comes in
	 * between carries the owner itself: the program can be interrupted,
	 * or preempted (syscall tracepoints may fault since 6.x), and such a
	 * record, stamped after this one, reaches the ring first. */
	si->owner = o;
	si->owner_dirty = 1;
	wire_head(&w, TS_EV_ACCEPT, bpf_ktime_get_ns(), si->cookie);
	if (si->synth_cookie)
		w.flags |= TS_EVF_SYNTH_COOKIE;
	w.fd = (int)ret;
	if (sock_call_send(&w, sk, skc, false, &o, o.pid, si, si->ino) &&
	    owner_same(&si->owner, &o))
		si->owner_dirty = 0;	/* this record told user space */
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return record_accept(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return record_accept(ctx->ret);
}

/* ---- close ------------------------------------------------------------- */

/* A descriptor of a TCP socket is going away: close(2) or process exit.
 * refs is the file's reference count before; the last reference reaches
 * tcp_close, any other only drops a reference and sends nothing. */
static __always_inline void record_close(struct sock *sk, const struct sock_common *skc,
					 struct file *file, int fd, __u8 via)
{
	__u32 refs = file_refs(file);
	struct sock_info *si;
	struct ts_wire w;
	struct owner cur;
	__u8 synth = 0;

	if (!current_owner(&cur))
		return;
	/* A socket never connected nor listening has no story to tell. */
	si = sock_find(sk);
	if (!si && skc_state(skc) == TCP_CLOSE)
		return;
	if (refs == 1 && close_hook != TS_CLOSE_HOOK_TRACEPOINT) {
		si = sock_entry(sk, skc, 0);
		if (si)
			si->close_seen = 1;
	}
	wire_head(&w, TS_EV_CLOSE, bpf_ktime_get_ns(), entry_cookie(si, skc, &synth));
	if (synth)
		w.flags |= TS_EVF_SYNTH_COOKIE;
	w.fd = fd;
	w.refs = refs;
	w.final = refs == 1;
	w.arg = via;
	sock_call_send(&w, sk, skc, false, &cur, cur.pid, si, file_ino(file));
}

SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct trace_event_raw_sys_enter *ctx)
{
	int fd = (int)ctx->args[0];
	struct file *file = fd_file(fd);
	union skc_copy c;
	const struct sock_common *skc;
	struct sock *sk = file_tcp_sock(file, &c, &skc);

	/* Reported on entry: close(2) releases the descriptor whatever it
	 * returns, and on 6.7+ the final fput runs inside the call. */
	if (sk)
		record_close(sk, skc, file, fd, TS_VIA_CLOSE);
	return 0;
}

/* Process exit closes every descriptor without close(2). The tracepoint
 * fires before exit_files(); only the last user of the table closes. The
 * walk follows the open-descriptor bitmap a word at a time, skipping empty
 * words, as the kernel's own close_files() does: its cost follows what the
 * process holds, not how far its table grew (one dup2() to descriptor
 * 524287 grows it to 524288 slots, for every child forked after). A step
 * reads a word or looks at one open descriptor; a walk that runs out of
 * steps stops there, counted (a table grown past fs.nr_open's default, or
 * half a million descriptors open). */
#define EXIT_SCAN_STEPS (1 << 19)

struct exit_scan {
	struct file **fds;
	unsigned long *open_fds;
	__u64 word;		/* open descriptors of the current word not yet looked at */
	__u32 base;		/* the descriptor of the current word's bit 0 */
	__u32 next_word;
	__u32 nwords;
	__u32 max;
	__u32 done;
	__u32 pad;
};

/* The walk's state, where the verifier reads it as unknown: kept on the
 * stack, each step's new values would be a state of their own to verify.
 * Per CPU: the program never nests in itself. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exit_scan);
} exit_scans SEC(".maps");

struct exit_scan_ref {
	struct exit_scan *s;
};

/* The lowest set bit's index, x not 0: BPF has no instruction for it, and
 * branches would make each of the 64 answers a path for the verifier to
 * walk through the rest of the step. A de Bruijn multiply: the top 6 bits
 * of the lowest bit times 0x03f79d71b4cb0a89 differ for every bit. */
static const __u8 debruijn_bit[64] = {
	0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4,
	62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
	63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
	46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6,
};

static __always_inline __u32 lowest_bit(__u64 x)
{
	return debruijn_bit[((x & -x) * 0x03f79d71b4cb0a89ULL) >> 58];
}

static __always_inline void exit_scan_fd(struct exit_scan *s, __u32 fd)
{
	const struct sock_common *skc;
	struct file *file = NULL;
	union skc_copy c;
	struct sock *sk;

	if (fd >= s->max || bpf_probe_read_kernel(&file, sizeof(file), &s->fds[fd]) || !file)
		return;
	sk = file_tcp_sock(file, &c, &skc);
	if (sk)
		record_close(sk, skc, file, (int)fd, TS_VIA_EXIT);
}

static long exit_scan_step(__u32 i, void *ctx)
{
	struct exit_scan *s = ((struct exit_scan_ref *)ctx)->s;
	__u64 w = s->word;

	if (!w) {
		if (s->next_word >= s->nwords) {
			s->done = 1;
			return 1;
		}
		/* On a fault the helper zeroes the word: nothing to look at. */
		bpf_probe_read_kernel(&s->word, sizeof(s->word), &s->open_fds[s->next_word]);
		s->base = s->next_word * 64;
		s->next_word++;
		return 0;
	}
	s->word = w & (w - 1);
	exit_scan_fd(s, s->base + lowest_bit(w));
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int sched_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct files_struct *files = BPF_CORE_READ(task, files);
	struct exit_scan_ref ref;
	struct fdtable *fdt;
	struct exit_scan *s;
	__u32 zero = 0;

	if (!has_bpf_loop || !files || BPF_CORE_READ(files, count.counter) != 1)
		return 0;
	s = bpf_map_lookup_elem(&exit_scans, &zero);
	if (!s)
		return 0;
	fdt = BPF_CORE_READ(files, fdt);
	s->fds = BPF_CORE_READ(fdt, fd);
	s->open_fds = BPF_CORE_READ(fdt, open_fds);
	s->max = BPF_CORE_READ(fdt, max_fds);
	s->nwords = (s->max + 63) / 64;
	s->word = 0;
	s->next_word = 0;
	s->done = 0;
	ref.s = s;
	bpf_loop(EXIT_SCAN_STEPS, exit_scan_step, &ref, 0);
	if (!s->done)
		stat_inc(TS_STAT_EXIT_SCAN_CUT);
	return 0;
}

/* The socket's owner as the state program keeps it; none if it has no
 * entry (user space may know). */
static __always_inline void sock_owner(const struct sock *sk, struct owner *o)
{
	struct sock_info *si = sock_find(sk);

	if (si)
		*o = si->owner;
}

/* A record about a socket from a hook with a trusted pointer (fentry,
 * tp_btf), with the cookie the helper gave or 0. */
static __always_inline void wire_head_trusted(struct ts_wire *w, __u32 type, const struct sock *sk,
					      const struct sock_common *skc, __u64 trusted_cookie)
{
	__u8 synth = 0;

	wire_head(w, type, bpf_ktime_get_ns(),
		  trusted_cookie ? trusted_cookie : sock_cookie(sk, skc, &synth));
	if (synth)
		w->flags |= TS_EVF_SYNTH_COOKIE;
}

/* tcp_close with no close(2) or exit before it: the last reference went
 * some other way (dup2 over it, close_range, a kernel user). */
static __always_inline int on_tcp_close(struct sock *sk, __u64 trusted_cookie)
{
	struct sock_info *si = sock_find(sk);
	const struct sock_common *skc;
	union skc_copy c;
	struct ts_wire w;
	struct owner cur = {};

	if (si && si->close_seen) {
		si->close_seen = 0;
		return 0;
	}
	current_owner(&cur);
	skc = skc_of(sk, false, &c);
	wire_head_trusted(&w, TS_EV_CLOSE, sk, skc, trusted_cookie);
	w.refs = 1;
	w.final = 1;
	w.arg = (current_flags() & PF_EXITING) ? TS_VIA_EXIT : TS_VIA_OTHER;
	sock_call_send(&w, sk, skc, false, &cur, cur.pid, NULL, sk_ino(sk));
	return 0;
}

/* ---- shutdown ---------------------------------------------------------- */

static __always_inline void emit_shutdown(struct sock *sk, const struct pending_shutdown *p,
					  __u8 how, __u64 trusted_cookie)
{
	const struct sock_common *skc;
	union skc_copy c;
	struct ts_wire w;
	struct owner cur = {};

	current_owner(&cur);
	skc = skc_of(sk, false, &c);
	wire_head_trusted(&w, TS_EV_SHUTDOWN, sk, skc, trusted_cookie);
	if (p) {
		w.fd = p->fd;
		w.refs = p->refs;
	}
	w.arg = how;
	sock_call_send(&w, sk, skc, false, &cur, cur.pid, NULL, sk_ino(sk));
}

SEC("tracepoint/syscalls/sys_enter_shutdown")
int enter_shutdown(struct trace_event_raw_sys_enter *ctx)
{
	int fd = (int)ctx->args[0];
	struct file *file = fd_file(fd);
	union skc_copy c;
	const struct sock_common *skc;
	struct sock *sk = file_tcp_sock(file, &c, &skc);
	struct pending_shutdown p = {};
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (!sk)
		return 0;
	p.sk = (__u64)sk;
	p.fd = fd;
	p.refs = file_refs(file);
	p.how = (__u8)ctx->args[1];
	bpf_map_update_elem(&shutdowns, &tid, &p, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_shutdown")
int exit_shutdown(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_shutdown *p = bpf_map_lookup_elem(&shutdowns, &tid);

	if (!p)
		return 0;
	/* Without a tcp_shutdown hook, a successful call is what we know. */
	if (close_hook == TS_CLOSE_HOOK_TRACEPOINT && ctx->ret == 0)
		emit_shutdown((struct sock *)p->sk, p, p->how, 0);
	bpf_map_delete_elem(&shutdowns, &tid);
	return 0;
}

/* tcp_shutdown(sk, how): how is the kernel's mask, SHUT_* + 1. */
static __always_inline int on_tcp_shutdown(struct sock *sk, int mask, __u64 trusted_cookie)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_shutdown *p = bpf_map_lookup_elem(&shutdowns, &tid);

	if (p && p->sk != (__u64)sk)
		p = NULL;
	emit_shutdown(sk, p, (__u8)(mask - 1), trusted_cookie);
	return 0;
}

/* fentry: trusted socket pointers, so the cookie helper works (5.12+). */
SEC("fentry/tcp_close")
int BPF_PROG(fentry_tcp_close, struct sock *sk, long timeout)
{
	return on_tcp_close(sk, cookie_mode == TS_COOKIE_HELPER ? bpf_get_socket_cookie(sk) : 0);
}

SEC("fentry/tcp_shutdown")
int BPF_PROG(fentry_tcp_shutdown, struct sock *sk, int how)
{
	return on_tcp_shutdown(sk, how,
			       cookie_mode == TS_COOKIE_HELPER ? bpf_get_socket_cookie(sk) : 0);
}

SEC("kprobe/tcp_close")
int BPF_KPROBE(kprobe_tcp_close, struct sock *sk)
{
	return on_tcp_close(sk, 0);
}

SEC("kprobe/tcp_shutdown")
int BPF_KPROBE(kprobe_tcp_shutdown, struct sock *sk, int how)
{
	return on_tcp_shutdown(sk, how, 0);
}

/* ---- TIME_WAIT --------------------------------------------------------- */

static __always_inline bool tw_timer(__u64 function)
{
	return tw_timer_fn && function == tw_timer_fn;
}

/* The wheel detaches a timer at expiry only once it is due. */
static __always_inline bool timer_due(unsigned long expires)
{
	return (long)(bpf_jiffies64() - expires) >= 0;
}

/* Plain loads of the trusted timer: most runs are other timers, rejected
 * in a few instructions. */
SEC("tp_btf/timer_start")
int BPF_PROG(timer_start_btf, struct timer_list *timer)
{
	if (!tw_timer((__u64)timer->function))
		return 0;
	return on_timer_start(timer);
}

SEC("tp_btf/timer_cancel")
int BPF_PROG(timer_cancel_btf, struct timer_list *timer)
{
	if (!tw_timer((__u64)timer->function))
		return 0;
	return on_timer_cancel(timer, timer->expires, timer_due(timer->expires));
}

/* Classic timer tracepoints: the timer pointer leads every layout, and
 * timer_start's record has the function after it. */
struct timer_tp_ctx {
	__u64 common;
	struct timer_list *timer;
	void *function;
};

SEC("tracepoint/timer/timer_start")
int timer_start_tp(struct timer_tp_ctx *ctx)
{
	if (!tw_timer((__u64)ctx->function))
		return 0;
	return on_timer_start(ctx->timer);
}

SEC("tracepoint/timer/timer_cancel")
int timer_cancel_tp(struct timer_tp_ctx *ctx)
{
	struct timer_list *timer = ctx->timer;
	unsigned long expires;

	if (!tw_timer((__u64)KREAD(struct timer_list, timer, function)))
		return 0;
	expires = KREAD(struct timer_list, timer, expires);
	return on_timer_cancel(timer, expires, timer_due(expires));
}

static __always_inline __u32 *connecting_slot(void)
{
	__u32 slot = (__u32)bpf_get_current_pid_tgid() & (CONNECTING_SLOTS - 1);

	return bpf_map_lookup_elem(&connecting, &slot);
}

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(void *ctx)
{
	__u32 *in = connecting_slot();

	if (in)
		*in = (__u32)bpf_get_current_pid_tgid();
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(void *ctx)
{
	__u32 *in = connecting_slot();

	if (in)
		*in = 0;
	return 0;
}

/* The classic tcp:* tracepoints' layouts differ between kernels after
 * skaddr, so only the stable prefixes are described. */
struct send_reset_ctx {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
};

struct receive_reset_ctx {	/* the tcp_event_sk class */
	__u64 common;
	const void *skaddr;
};

/* ---- resets ------------------------------------------------------------ */

static __always_inline int handle_reset(const struct sock *sk, bool trusted, __u8 dir,
					__u64 trusted_cookie)
{
	const struct sock_common *skc;
	union skc_copy c;
	struct owner o = {};
	struct ts_wire w;
	__u16 family;

	/* A reset answering a packet for no socket has nothing to attach to. */
	if (!sk)
		return 0;
	skc = skc_of(sk, trusted, &c);
	family = skc_family(skc);
	if (family != TS_AF_INET && family != TS_AF_INET6)
		return 0;
	sock_owner(sk, &o);
	wire_head_trusted(&w, TS_EV_RESET, sk, skc, trusted_cookie);
	w.arg = dir;
	sock_call_send(&w, sk, skc, trusted, &o, 0, NULL, sk_ino(sk));
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(reset_send_btf, const struct sock *sk)
{
	if (!sk)
		return 0;
	return handle_reset(sk, true, TS_RESET_SENT,
			    cookie_mode == TS_COOKIE_HELPER ? bpf_get_socket_cookie((void *)sk) : 0);
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(reset_recv_btf, struct sock *sk)
{
	return handle_reset(sk, true, TS_RESET_RECEIVED,
			    cookie_mode == TS_COOKIE_HELPER ? bpf_get_socket_cookie(sk) : 0);
}

SEC("tracepoint/tcp/tcp_send_reset")
int reset_send_tp(struct send_reset_ctx *ctx)
{
	return handle_reset(ctx->skaddr, false, TS_RESET_SENT, 0);
}

SEC("tracepoint/tcp/tcp_receive_reset")
int reset_recv_tp(struct receive_reset_ctx *ctx)
{
	return handle_reset(ctx->skaddr, false, TS_RESET_RECEIVED, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
