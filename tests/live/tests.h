/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Every live test, by file. */
#ifndef LIVE_TESTS_H
#define LIVE_TESTS_H

struct test {
	const char *name;
	void (*fn)(void);
	int slow;	/* minutes of waiting on the kernel: run beside the others */
	int one_mode;	/* user space alone is under test: the attach mode changes
			 * nothing, so it runs in tracepoint mode only */
};

/* test_foundation.c */
void t_lifecycle_ipv4(void);
void t_lifecycle_ipv6(void);
void t_filter_ipv4(void);
void t_filter_ipv6(void);
void t_filter_localport(void);
void t_filter_remoteport(void);
void t_filter_pid(void);
void t_bad_options(void);
void t_unprivileged(void);
void t_human_output(void);
void t_closed_stdout(void);
void t_preexisting_socket(void);
void t_lost_events(void);
void t_no_phantoms_after_loss(void);

/* test_closepath.c */
void t_close_fork_inherited(void);
void t_close_eof_never_closed(void);
void t_close_halfclose(void);
void t_close_shared_rdwr(void);
void t_close_linger_reset(void);
void t_close_unread_reset(void);
void t_close_dup(void);

/* test_timewait.c */
void t_timewait_expired(void);
void t_timewait_reused(void);
void t_timewait_count(void);
void t_timewait_rearm(void);
void t_timewait_simultaneous(void);

/* test_hardening_finwait2.c */
void t_finwait2_held(void);
void t_finwait2_timeout(void);
void t_finwait2_brief(void);
void t_finwait2_killed(void);

/* test_snapshot.c */
void t_snapshot_start(void);
void t_snapshot_netns(void);
void t_record_replay(void);
void t_snapshot_replay(void);
void t_snapshot_filtered(void);
void t_delivery_bound(void);

/* test_timeline.c */
void t_timeline_live_replay(void);
void t_timeline_write_errors(void);

/* test_hist.c */
void t_hist_by_comm(void);

/* test_metrics.c */
void t_metrics(void);
void t_metrics_bad_input(void);
void t_metrics_prometheus(void);

/* test_hardening_scan.c */
void t_hardening_scan_rate(void);
void t_hardening_scan_stall(void);

/* test_cgroup.c */
void t_cgroup_container(void);
void t_cgroup_filter(void);
void t_cgroup_snapshot(void);

/* test_hardening_text.c */
void t_text_escape(void);
void t_record_stdout(void);

/* test_hardening_bpf.c */
void t_listeners_by_address(void);
void t_listeners_reuseport(void);
void t_listeners_table_full(void);
void t_exit_walk_high_fd(void);
void t_exit_walk_cost(void);
void t_exit_walk_bound(void);

/* test_hardening_metrics.c */
void t_metrics_trickle(void);
void t_metrics_owner_names(void);

/* test_hardening_files.c */
void t_files_planted_links(void);
void t_files_modes(void);
void t_privs_dropped(void);
void t_privs_dropped_all_netns(void);

#endif /* LIVE_TESTS_H */
