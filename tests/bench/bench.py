#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Benchmark engine behind tests/bench/run-bench (which checks the packages
it needs and execs this with Debian's /usr/bin/python3). See README.md here.

Three phases, all driven by tests/bench/churn.c:
  overhead    interleaved blocks: rounds x [no tracer, tcpstate-trace variants,
              libbpf-tools tcpstates]; connections/s as a ratio to the median of
              the no-tracer blocks, BPF run time per program run (bpf_stats),
              events/s and lost, tracer CPU per event, max RSS.
  saturation  tcpstate-trace with its default ring buffer under rising churn,
              up to the machine's maximum: highest rate with no loss, loss at
              the highest rate.
  memory      tracer RSS before and after N connections are opened and held.

Only the standard library; root is needed (BPF, bpf_stats sysctl).
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HZ = os.sysconf('SC_CLK_TCK')

# Targets from the project's issue 8.
TARGETS = {
    'lost_at_max': 0,                 # events lost at the highest churn, default ring
    'state_prog_ns': 250,             # ns per inet_sock_set_state program run
    'throughput_ratio': 0.95,         # of the no-tracer connections/s
    'user_cpu_ns_per_event': 1000,    # tracer user-space CPU per event
    'rss_bytes_per_conn': 300,        # RSS per tracked connection (socket)
}

# Which BPF program is "the inet_sock_set_state program" of each tool.
STATE_PROG_RE = {
    'tracer': re.compile(r'^state'),          # state_btf / state_tp
    'tcpstates': re.compile(r'set_state'),    # handle_set_state
}

children = []   # Popen objects still running, killed on the way out


def log(msg):
    print('run-bench: ' + msg, file=sys.stderr, flush=True)


def die(msg, code=1):
    log('error: ' + msg)
    sys.exit(code)


# ---- kernel and /proc ----

def sysctl_path(name):
    return '/proc/sys/' + name.replace('.', '/')


def sysctl_get(name):
    with open(sysctl_path(name)) as f:
        return f.read().strip()


def sysctl_set(name, value):
    with open(sysctl_path(name), 'w') as f:
        f.write(str(value))


def bpf_progs():
    """id -> {name, type, run_time_ns, run_cnt} for every loaded program."""
    try:
        out = subprocess.run(['bpftool', 'prog', 'show', '-j'], capture_output=True,
                             text=True, timeout=30).stdout
        progs = json.loads(out or '[]')
    except (subprocess.TimeoutExpired, ValueError):
        return {}
    return {p['id']: {'name': p.get('name', '?'), 'type': p.get('type', '?'),
                      'run_time_ns': p.get('run_time_ns', 0) or 0,
                      'run_cnt': p.get('run_cnt', 0) or 0} for p in progs}


def bpf_maps():
    try:
        out = subprocess.run(['bpftool', 'map', 'show', '-j'], capture_output=True,
                             text=True, timeout=30).stdout
        maps = json.loads(out or '[]')
    except (subprocess.TimeoutExpired, ValueError):
        return {}
    return {m['id']: m for m in maps}


def fd_bpf_ids(pid):
    """(prog ids, map ids) the process holds descriptors for: what is its own,
    whatever else is loaded at the same time."""
    progs, maps = set(), set()
    d = '/proc/%d/fdinfo' % pid
    try:
        names = os.listdir(d)
    except OSError:
        return progs, maps
    for n in names:
        try:
            with open(os.path.join(d, n)) as f:
                for line in f:
                    if line.startswith('prog_id:'):
                        progs.add(int(line.split()[1]))
                    elif line.startswith('map_id:'):
                        maps.add(int(line.split()[1]))
        except (OSError, ValueError):
            pass
    return progs, maps


def proc_cpu(pid, tid=None):
    """(user s, system s) of the process (all threads), or of thread tid."""
    path = '/proc/%d/stat' % pid if tid is None else '/proc/%d/task/%d/stat' % (pid, tid)
    with open(path) as f:
        s = f.read()
    fields = s[s.rindex(')') + 2:].split()
    return int(fields[11]) / HZ, int(fields[12]) / HZ


def proc_mem(pid):
    """VmRSS, VmHWM, RssAnon in bytes."""
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, _, v = line.partition(':')
            if k in ('VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'RssShmem'):
                out[k] = int(v.split()[0]) * 1024
    return out


def machine_cpu():
    """(busy jiffies, total jiffies) over all CPUs."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)


# ---- tools under test ----

class Tool:
    """One traced run of tcpstate-trace or tcpstates."""

    def __init__(self, label, kind, argv, tmpdir, keep_lost=False):
        self.label, self.kind, self.argv, self.tmpdir = label, kind, argv, tmpdir
        self.proc = self.wc = None
        # keep_lost: the tracer's "lost" records (reported once a second) go
        # to a file through grep, so drops can be checked mid-run.
        self.keep_lost = keep_lost
        self.lostpath = os.path.join(tmpdir, '%s.lost' % label)
        self.prog_ids, self.map_ids = set(), set()
        self.stuck = False

    def start(self, timeout=60):
        self.errpath = os.path.join(self.tmpdir, '%s.stderr' % self.label)
        self.errf = open(self.errpath, 'w+')
        if self.kind == 'tcpstates':
            # Its output is counted, not kept: wc reads the pipe.
            self.wc = subprocess.Popen(['wc', '-l'], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True)
            children.append(self.wc)
            self.proc = subprocess.Popen(self.argv, stdout=self.wc.stdin, stderr=self.errf)
            self.wc.stdin.close()
        elif self.keep_lost:
            self.lostf = open(self.lostpath, 'w')
            self.wc = subprocess.Popen(['grep', '--line-buffered', '-F', '"type":"lost"'],
                                       stdin=subprocess.PIPE, stdout=self.lostf)
            children.append(self.wc)
            self.proc = subprocess.Popen(self.argv, stdout=self.wc.stdin, stderr=self.errf)
            self.wc.stdin.close()
        else:
            self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=self.errf)
        children.append(self.proc)
        deadline = time.monotonic() + timeout
        stable_since, last = None, None
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError('%s exited with %s while starting: %s' % (
                    self.label, self.proc.returncode, self.stderr_text().strip()[-500:]))
            if time.monotonic() > deadline:
                raise RuntimeError('%s did not get ready in %d s' % (self.label, timeout))
            if self.kind == 'tracer':
                if 'tracing TCP state transitions' in self.stderr_text():
                    break
            else:
                # tcpstates says nothing on stderr: ready once its programs
                # are loaded and the set stops changing (attach follows load).
                ids = fd_bpf_ids(self.proc.pid)[0]
                if ids and ids == last:
                    if time.monotonic() - stable_since > 0.5:
                        break
                else:
                    stable_since, last = time.monotonic(), ids
            time.sleep(0.05)
        time.sleep(0.3)
        self.prog_ids, self.map_ids = fd_bpf_ids(self.proc.pid)

    def stderr_text(self):
        self.errf.flush()
        with open(self.errpath) as f:
            return f.read()

    def lost_so_far(self):
        """Total of the tracer's last "lost" record (keep_lost only)."""
        total = 0
        with open(self.lostpath) as f:
            for line in f:
                try:
                    total = max(total, json.loads(line).get('total', 0))
                except ValueError:
                    pass
        return total

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=30):
        """SIGINT, wait; returns the parsed end-of-run numbers."""
        rc = self.proc.poll()
        crashed = rc is not None
        if not crashed:
            self.proc.send_signal(signal.SIGINT)
            try:
                rc = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.stuck = True
                self.proc.kill()
                rc = self.proc.wait()
        children.remove(self.proc)
        res = {'exit_code': rc, 'crashed': crashed, 'stuck_on_sigint': self.stuck}
        err = self.stderr_text()
        if self.keep_lost:
            self.wc.wait(timeout=60)
            children.remove(self.wc)
            self.lostf.close()
        self.errf.close()
        if self.kind == 'tcpstates':
            out = self.wc.stdout.read()
            self.wc.wait(timeout=60)
            children.remove(self.wc)
            lines = int(out.split()[0]) if out.strip() else 0
            res['events'] = max(lines - 1, 0)     # minus the header line
            res['lost'] = sum(int(x) for x in re.findall(r'[Ll]ost (\d+) event', err))
        else:
            m = re.search(r'(\d+) events \((\d+) transitions\), (\d+) lost, (\d+) on (?:untracked )?sockets', err)
            if m:
                res.update(events=int(m.group(1)), transitions=int(m.group(2)),
                           lost=int(m.group(3)), untracked=int(m.group(4)))
            else:
                res.update(events=None, lost=None)
                res['no_summary'] = True
            m = re.search(r'socket table full (\d+) times', err)
            res['socket_table_full'] = int(m.group(1)) if m else 0
            other = [l for l in err.splitlines()
                     if l.strip() and 'tracing TCP state transitions' not in l
                     and ' events (' not in l and 'socket table full' not in l]
            if other:
                res['stderr_other'] = other[:20]
        return res


def tool_argv(cfg, args):
    if cfg == 'tcpstates':
        return 'tcpstates', [args.tcpstates]
    extra = {
        'trace-j': ['-j'],
        'trace-j-noalert': ['-j', '--close-wait-alert', '0'],
        'trace-text': [],
        'trace-timeline': ['--timeline', os.path.join(args.tmpdir, 'timeline.ndjson')],
        'trace-metrics': ['-j', '--metrics', '127.0.0.1:%d' % getattr(args, 'metrics_port', 0)],
        'trace-metrics-scraped': ['-j', '--metrics', '127.0.0.1:%d' %
                                  getattr(args, 'metrics_port', 0)],
        'trace-metrics-decoy': ['-j', '--metrics', '127.0.0.1:%d' %
                                getattr(args, 'metrics_port', 0)],
    }[cfg]
    return 'tracer', [args.tracer] + extra


def run_churn(args, churn_opts, duration):
    cmd = [args.churn, '--duration', '%g' % duration] + churn_opts
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    if p.returncode != 0:
        raise RuntimeError('churn failed (%d): %s' % (p.returncode, p.stderr.strip()))
    return json.loads(p.stdout.strip().splitlines()[-1])


def foreign_progs(own):
    return {i: p for i, p in bpf_progs().items() if i not in own}


def busy_pct(secs=0.5):
    a = machine_cpu()
    time.sleep(secs)
    b = machine_cpu()
    return 100.0 * (b[0] - a[0]) / max(b[1] - a[1], 1)


def wait_quiet(args, busy_max=25.0):
    """Wait (bounded) until no BPF programs are loaded and the machine is
    mostly idle: another tracer (a concurrent test run) traces our churn,
    and anything busy competes for the same 2 cores; both skew a block."""
    t0 = time.monotonic()
    max_wait = min(args.wait_quiet, args.wait_budget)
    while True:
        f = foreign_progs(set())
        busy = busy_pct()
        if (not f and busy <= busy_max) or time.monotonic() - t0 >= max_wait:
            waited = time.monotonic() - t0
            args.wait_budget = max(args.wait_budget - waited, 0)
            return f, busy, waited
        time.sleep(0.5)


def run_block(args, cfg, churn_opts, duration, tag, prefix=None, work=None):
    """One block: start the tool (if any), run the load for duration (churn
    with churn_opts, or work(duration)), measure, stop."""
    rec = {'config': cfg, 'tag': tag, 'churn_opts': churn_opts}
    pre, busy, waited = wait_quiet(args)
    rec['waited_for_quiet_s'] = round(waited, 1)
    rec['busy_before_pct'] = round(busy, 1)
    rec['foreign_progs_before'] = sorted({p['name'] for p in pre.values()})
    tool = None
    if cfg != 'none':
        kind, argv = tool_argv(cfg, args)
        argv = (prefix or []) + argv   # nice execs the tool: same pid
        tool = Tool(cfg, kind, argv, args.tmpdir)
        tool.start()
        rec['argv'] = argv
    own = tool.prog_ids if tool else set()
    p0 = bpf_progs()
    m0 = machine_cpu()
    if tool:
        c0 = proc_cpu(tool.proc.pid)
        m_c0 = proc_cpu(tool.proc.pid, tool.proc.pid)   # the main thread: the consumer
    t0 = time.monotonic()
    churn = work(duration) if work else run_churn(args, churn_opts, duration)
    rec['churn'] = churn
    # Let the consumer drain: tcpstate-trace polls at least every 100 ms.
    time.sleep(0.5 if tool else 0)
    t1 = time.monotonic()
    m1 = machine_cpu()
    p1 = bpf_progs()
    rec['machine_busy_pct'] = round(100.0 * (m1[0] - m0[0]) / max(m1[1] - m0[1], 1), 1)
    if tool:
        if tool.alive():
            c1 = proc_cpu(tool.proc.pid)
            mem = proc_mem(tool.proc.pid)
            rec['user_s'], rec['sys_s'] = c1[0] - c0[0], c1[1] - c0[1]
            m_c1 = proc_cpu(tool.proc.pid, tool.proc.pid)
            rec['consumer_s'] = m_c1[0] - m_c0[0] + m_c1[1] - m_c0[1]
            rec['window_s'] = t1 - t0
            rec['mem'] = mem
        rec['end'] = tool.stop()
    progs = {}
    foreign = {}
    for i, p in p1.items():
        q = p0.get(i)
        if not q:
            continue
        dc, dt = p['run_cnt'] - q['run_cnt'], p['run_time_ns'] - q['run_time_ns']
        target = progs if i in own else foreign
        e = target.setdefault(p['name'], {'run_cnt': 0, 'run_time_ns': 0})
        e['run_cnt'] += dc
        e['run_time_ns'] += dt
    rec['bpf'] = progs
    rec['foreign_bpf'] = {k: v for k, v in foreign.items() if v['run_cnt']}
    rec['noisy'] = bool(rec['foreign_bpf']) or busy > 25.0
    return rec


# ---- summaries ----

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def pick(blocks, cfg):
    """A config's blocks: the quiet ones if there are at least two."""
    bs = [b for b in blocks if b['config'] == cfg]
    quiet = [b for b in bs if not b['noisy']]
    return (quiet, 'quiet') if len(quiet) >= 2 else (bs, 'all')


def summarize(blocks, cfg, none_median):
    """Throughput, loss and CPU from the timed blocks; the BPF figures from
    the blocks run for bpf_stats alone if there are any (its two clock reads
    per program run would weigh on the throughput), else from the same."""
    bs, basis = pick([b for b in blocks if not b.get('stats_round')], cfg)
    sbs = [b for b in blocks if b['config'] == cfg and b.get('stats_round')] or bs
    cps = [b['churn']['conns_per_s'] for b in bs]
    s = {'config': cfg, 'basis': basis, 'blocks': len(bs),
         'noisy_blocks': sum(b['noisy'] for b in blocks if b['config'] == cfg),
         'conns_per_s_median': med(cps), 'conns_per_s': cps}
    if none_median:
        ratios = [c / none_median for c in cps]
        s['ratio_median'] = med(ratios)
        s['ratio_min'] = min(ratios)
        s['ratio_max'] = max(ratios)
        # Against the no-tracer block of the same round (nearest in time).
        s['ratio_paired_median'] = med([b.get('ratio_paired') for b in bs
                                        if basis == 'all' or not b.get('paired_noisy')])
    conns = sum(b['churn']['connections'] for b in bs)
    s['connections'] = conns
    if cfg == 'none':
        return s
    ev = [b['end'].get('events') for b in bs]
    lost = [b['end'].get('lost') for b in bs]
    s['events'] = sum(e for e in ev if e)
    s['lost'] = sum(x for x in lost if x)
    s['events_per_conn'] = s['events'] / conns if conns else None
    s['events_per_s_median'] = med([b['end'].get('events', 0) / b['churn']['duration_s']
                                    for b in bs if b['end'].get('events') is not None])
    tot = s['events'] + s['lost']
    s['lost_pct'] = 100.0 * s['lost'] / tot if tot else 0.0
    cpu_bs = [b for b in bs if 'user_s' in b and b['end'].get('events')]
    ev_cpu = sum(b['end']['events'] for b in cpu_bs)
    if ev_cpu:
        s['user_ns_per_event'] = 1e9 * sum(b['user_s'] for b in cpu_bs) / ev_cpu
        s['sys_ns_per_event'] = 1e9 * sum(b['sys_s'] for b in cpu_bs) / ev_cpu
        s['cpu_pct_median'] = med([100 * (b['user_s'] + b['sys_s']) / b['window_s']
                                   for b in cpu_bs])
    s['max_rss_bytes'] = max((b['mem']['VmHWM'] for b in bs if 'mem' in b), default=None)
    progs = {}
    conns = sum(b['churn']['connections'] for b in sbs)
    for b in sbs:
        for n, p in b['bpf'].items():
            e = progs.setdefault(n, {'run_cnt': 0, 'run_time_ns': 0})
            e['run_cnt'] += p['run_cnt']
            e['run_time_ns'] += p['run_time_ns']
    for n, e in progs.items():
        e['avg_ns'] = e['run_time_ns'] / e['run_cnt'] if e['run_cnt'] else None
        e['runs_per_conn'] = e['run_cnt'] / conns if conns else None
        e['ns_per_conn'] = e['run_time_ns'] / conns if conns else None
    s['bpf'] = progs
    s['bpf_ns_per_conn'] = sum(e['run_time_ns'] for e in progs.values()) / conns if conns else None
    kind = 'tcpstates' if cfg == 'tcpstates' else 'tracer'
    st = [n for n in progs if STATE_PROG_RE[kind].search(n)]
    if st:
        rt = sum(progs[n]['run_time_ns'] for n in st)
        rc = sum(progs[n]['run_cnt'] for n in st)
        s['state_prog'] = '+'.join(st)
        s['state_prog_avg_ns'] = rt / rc if rc else None
    s['crashed'] = sum(1 for b in bs if b['end'].get('crashed'))
    s['stuck'] = sum(1 for b in bs if b['end'].get('stuck_on_sigint'))
    s['bad_exit'] = sum(1 for b in bs if b['end'].get('exit_code') not in (0, None))
    return s


def fmt(v, spec='{:.0f}', none='-'):
    return none if v is None else spec.format(v)


def print_table(title, header, rows):
    print()
    print(title)
    widths = [max([len(str(h))] + [len(str(r[i])) for r in rows]) for i, h in enumerate(header)]
    print('  '.join(str(h).rjust(w) if i else str(h).ljust(w)
                    for i, (h, w) in enumerate(zip(header, widths))))
    for r in rows:
        print('  '.join(str(c).rjust(w) if i else str(c).ljust(w)
                        for i, (c, w) in enumerate(zip(r, widths))))


# ---- phases ----

def phase_overhead(args, res):
    cfgs = args.configs
    churn_opts = ['--mode', args.mode, '--clients', str(args.clients),
                  '--servers', str(args.servers)]
    blocks = []
    total = args.rounds * len(cfgs)
    n = 0
    for r in range(args.rounds):
        k = r % len(cfgs)
        order = cfgs[k:] + cfgs[:k]       # rotate: no config always first
        for cfg in order:
            n += 1
            b = run_block(args, cfg, churn_opts, args.block_secs, 'round %d' % (r + 1))
            b['round'] = r + 1
            blocks.append(b)
            e = b.get('end', {})
            log('overhead %d/%d %-16s %8.0f conn/s  events %-9s lost %-7s%s' % (
                n, total, cfg, b['churn']['conns_per_s'], e.get('events', '-'),
                e.get('lost', '-'), '  (another BPF tool was running)' if b['noisy'] else ''))
    none_med = med([b['churn']['conns_per_s'] for b in pick(blocks, 'none')[0]])
    none_by_round = {b['round']: b for b in blocks if b['config'] == 'none'}
    for b in blocks:
        b['ratio'] = b['churn']['conns_per_s'] / none_med if none_med else None
        nb = none_by_round.get(b['round'])
        b['ratio_paired'] = b['churn']['conns_per_s'] / nb['churn']['conns_per_s'] if nb else None
        b['paired_noisy'] = bool(b['noisy'] or (nb and nb['noisy']))
    summ = {c: summarize(blocks, c, none_med) for c in cfgs}
    res['overhead'] = {'churn_opts': churn_opts, 'block_secs': args.block_secs,
                       'rounds': args.rounds, 'none_conns_per_s_median': none_med,
                       'summary': summ, 'blocks': blocks}

    rows = []
    for c in cfgs:
        s = summ[c]
        rows.append([c, fmt(s['conns_per_s_median']),
                     fmt(s.get('ratio_median'), '{:.3f}'),
                     fmt(s.get('ratio_paired_median'), '{:.3f}'),
                     '%s..%s' % (fmt(s.get('ratio_min'), '{:.2f}'), fmt(s.get('ratio_max'), '{:.2f}')),
                     fmt(s.get('events_per_s_median')),
                     fmt(s.get('events_per_conn'), '{:.1f}'),
                     fmt(s.get('lost')), fmt(s.get('state_prog_avg_ns')),
                     fmt(s.get('bpf_ns_per_conn')),
                     fmt(s.get('user_ns_per_event')), fmt(s.get('sys_ns_per_event')),
                     fmt(s.get('cpu_pct_median'), '{:.0f}%'),
                     fmt(s['max_rss_bytes'] / 2**20 if s.get('max_rss_bytes') else None, '{:.1f}'),
                     s['noisy_blocks']])
    print_table('Overhead: %d rounds x %d s, churn %s (medians over blocks; ratio to the '
                'no-tracer median %.0f conn/s)' % (args.rounds, args.block_secs,
                                                    ' '.join(churn_opts), none_med or 0),
                ['config', 'conn/s', 'ratio', 'paired', 'range', 'events/s', 'ev/conn', 'lost',
                 'state ns/run', 'BPF ns/conn', 'user ns/ev', 'sys ns/ev', 'CPU', 'maxRSS MiB',
                 'noisy'], rows)
    print('ratio: to the no-tracer median; paired: median of ratios to the no-tracer block of '
          'the same round; range: min..max ratio; noisy: blocks with another BPF tool or a busy '
          'machine before the block (left out of the medians when 2+ quiet blocks remain); '
          'CPU: tracer user+sys, % of one core')
    rows = []
    for c in cfgs:
        for name, e in sorted(summ[c].get('bpf', {}).items(), key=lambda kv: -kv[1]['run_time_ns']):
            rows.append([c, name, e['run_cnt'], fmt(e['avg_ns']),
                         fmt(e['runs_per_conn'], '{:.2f}'), fmt(e['ns_per_conn'])])
    if rows:
        print_table('BPF programs (bpf_stats over the overhead blocks)',
                    ['config', 'program', 'runs', 'ns/run', 'runs/conn', 'ns/conn'], rows)


NGINX_CONF = """worker_processes 2;
pid %(dir)s/nginx.pid;
error_log %(dir)s/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %(dir)s; proxy_temp_path %(dir)s; fastcgi_temp_path %(dir)s;
    uwsgi_temp_path %(dir)s; scgi_temp_path %(dir)s;
    server { listen 127.0.0.1:%(port)d; location / { return 200 "ok\\n"; } }
}
"""


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_nginx(args, name='nginx'):
    """nginx with 2 workers answering `return 200` on a loopback port, its
    files in args.tmpdir/name."""
    import socket
    d = os.path.join(args.tmpdir, name)
    os.makedirs(d, exist_ok=True)
    port = free_port()
    conf = os.path.join(d, 'nginx.conf')
    with open(conf, 'w') as f:
        f.write(NGINX_CONF % {'dir': d, 'port': port})
    # Its own session: the workers go with the master at the end.
    p = subprocess.Popen([args.nginx, '-p', d, '-c', conf, '-g', 'daemon off;'],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True)
    children.append(p)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return p, port
        except OSError:
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('nginx did not start: %s' % p.stderr.read().decode()[-300:])
            time.sleep(0.05)


def wrk_argv(args, port, duration, path='/', conns=16, threads=2):
    """wrk, one connection per request: requests/s are connections/s."""
    return [args.wrk, '-t%d' % threads, '-c%d' % conns, '-d%ds' % max(1, round(duration)),
            '-H', 'Connection: close', 'http://127.0.0.1:%d%s' % (port, path)]


def wrk_result(p, stdout, stderr):
    if p.returncode != 0:
        raise RuntimeError('wrk failed (%d): %s' % (p.returncode, stderr.strip()))
    reqs = re.search(r'(\d+) requests in ([\d.]+)(m?s)', stdout)
    errs = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)',
                     stdout)
    non2xx = re.search(r'Non-2xx or 3xx responses: (\d+)', stdout)
    n, secs = int(reqs.group(1)), float(reqs.group(2)) / (1000 if reqs.group(3) == 'ms' else 1)
    return {'conns_per_s': n / secs, 'connections': n, 'duration_s': secs,
            'socket_errors': sum(int(x) for x in errs.groups()) if errs else 0,
            'non_2xx': int(non2xx.group(1)) if non2xx else 0}


def run_wrk(args, port, duration):
    p = subprocess.run(wrk_argv(args, port, duration), capture_output=True, text=True,
                       timeout=duration + 60)
    return wrk_result(p, p.stdout, p.stderr)


def phase_load(args, res):
    """Real load, interleaved: nginx with wrk (one connection per request),
    and churn with 2 connecting + 2 accepting threads; both keep the 2 CPUs
    busy, so the tracer's consumer competes for CPU as on a busy host."""
    cfgs = ['none', 'trace-j', 'trace-text', 'trace-timeline'] + \
        (['tcpstates'] if args.tcpstates else [])
    nginx, port = start_nginx(args)
    churn22 = ['--mode', 'graceful', '--clients', '2', '--servers', '2']
    loads = [('nginx', None, lambda d: run_wrk(args, port, d)),
             ('churn-2+2', churn22, None)]
    res['load'] = {}
    try:
        for name, copts, work in loads:
            blocks = []
            # The timed rounds without bpf_stats, then one round for it.
            for r in range(args.rounds + 1):
                stats_round = r == args.rounds
                sysctl_set('kernel.bpf_stats_enabled', 1 if stats_round else 0)
                k = r % len(cfgs)
                for cfg in cfgs[k:] + cfgs[:k]:
                    if stats_round and cfg == 'none':
                        continue
                    tag = '%s %s' % (name, 'bpf_stats round' if stats_round else
                                     'round %d' % (r + 1))
                    b = run_block(args, cfg, copts, args.block_secs, tag, work=work)
                    b['round'] = r + 1
                    b['stats_round'] = stats_round
                    blocks.append(b)
                    e = b.get('end', {})
                    log('load %-24s %-15s %8.0f conn/s  events %-9s lost %s' % (
                        tag, cfg, b['churn']['conns_per_s'], e.get('events', '-'),
                        e.get('lost', '-')))
            none_med = med([b['churn']['conns_per_s'] for b in pick(blocks, 'none')[0]])
            by_round = {b['round']: b for b in blocks if b['config'] == 'none'}
            for b in blocks:
                nb = by_round.get(b['round'])
                b['ratio_paired'] = b['churn']['conns_per_s'] / nb['churn']['conns_per_s'] \
                    if nb else None
                b['paired_noisy'] = bool(b['noisy'] or (nb and nb['noisy']))
            summ = {c: summarize(blocks, c, none_med) for c in cfgs}
            for c in cfgs[1:]:
                summ[c]['lost_per_block'] = [b['end'].get('lost') for b in blocks
                                             if b['config'] == c]
            res['load'][name] = {'none_conns_per_s_median': none_med, 'summary': summ,
                                 'blocks': blocks}
            print_load(name, cfgs, summ, none_med, args)
    finally:
        sysctl_set('kernel.bpf_stats_enabled', 1)
        os.killpg(nginx.pid, signal.SIGTERM)
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(nginx.pid, signal.SIGKILL)
            nginx.wait()
        children.remove(nginx)


def stalled_client(port, stop):
    """A client that sends half a request and stalls, again and again."""
    def stall():
        while not stop.is_set():
            try:
                with socket.create_connection(('127.0.0.1', port), timeout=5) as c:
                    c.sendall(b'GET /metr')
                    stop.wait(30)
            except OSError:
                stop.wait(0.5)

    t = threading.Thread(target=stall, daemon=True)
    t.start()
    return t


def phase_scrape(args, res):
    """Scraping must not cost events: the 2+2 churn traced with --metrics,
    interleaved without scrapers, with 50 scrapers in a loop plus one
    stalled client, and with the same scrapers aimed at nginx instead (the
    decoy: the same load on the machine, none of it on the tracer's server).
    The consumer is the tracer's main thread."""
    churn22 = ['--mode', 'graceful', '--clients', '2', '--servers', '2']
    args.metrics_port = free_port()
    cfgs = ['trace-metrics', 'trace-metrics-scraped']
    decoy_port = None
    if os.access(args.nginx, os.X_OK):
        decoy_port = start_nginx(args, 'nginx-decoy')[1]
        cfgs.append('trace-metrics-decoy')
    blocks = []

    def scraped_at(port):
        """50 scrapers in a loop (wrk: 50 connections, one request each, from
        one thread, so the scrapers themselves load the machine little) and
        one stalled client, beside the churn."""
        def work(d):
            stop = threading.Event()
            t = stalled_client(port, stop)
            w = subprocess.Popen(wrk_argv(args, port, d, '/metrics', conns=50, threads=1),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                churn = run_churn(args, churn22, d)
                out, err = w.communicate(timeout=d + 60)
            finally:
                stop.set()
                t.join(timeout=10)
                if w.poll() is None:
                    w.kill()
                    w.wait()
            wr = wrk_result(w, out, err)
            return dict(churn, scrapes=wr['connections'],
                        scrape_errors=wr['socket_errors'] + wr['non_2xx'])
        return work

    works = {'trace-metrics': None, 'trace-metrics-scraped': scraped_at(args.metrics_port),
             'trace-metrics-decoy': scraped_at(decoy_port)}

    for r in range(args.rounds):
        for cfg in (cfgs if r % 2 == 0 else cfgs[::-1]):
            b = run_block(args, cfg, churn22, args.block_secs, 'scrape round %d' % (r + 1),
                          work=works[cfg])
            blocks.append(b)
            e = b.get('end', {})
            log('scrape round %d %-22s %8.0f conn/s  events %-9s lost %s  scrapes %s' % (
                r + 1, cfg, b['churn']['conns_per_s'], e.get('events', '-'), e.get('lost', '-'),
                b['churn'].get('scrapes', '-')))
    out = {}
    for c in cfgs:
        bs = [b for b in blocks if b['config'] == c and b.get('end', {}).get('events')]
        ev = sum(b['end']['events'] for b in bs)
        out[c] = {
            'lost_per_block': [b['end'].get('lost') for b in blocks if b['config'] == c],
            'consumer_ns_per_event': 1e9 * sum(b.get('consumer_s', 0) for b in bs) / ev if ev else None,
            'process_ns_per_event': 1e9 * sum(b.get('user_s', 0) + b.get('sys_s', 0) for b in bs) / ev
            if ev else None,
            'scrapes': sum(b['churn'].get('scrapes', 0) for b in bs),
            'scrape_errors': sum(b['churn'].get('scrape_errors', 0) for b in bs),
            'conns_per_s_median': med([b['churn']['conns_per_s'] for b in bs]),
        }
    a, b = out[cfgs[0]], out[cfgs[1]]
    ratio = b['consumer_ns_per_event'] / a['consumer_ns_per_event'] \
        if a['consumer_ns_per_event'] and b['consumer_ns_per_event'] else None
    c = out.get('trace-metrics-decoy', {})
    decoy_ratio = b['consumer_ns_per_event'] / c['consumer_ns_per_event'] \
        if c.get('consumer_ns_per_event') and b['consumer_ns_per_event'] else None
    res['scrape'] = {'summary': out, 'consumer_ratio': ratio, 'consumer_ratio_to_decoy': decoy_ratio,
                     'blocks': blocks}
    print('\nScrape: 2+2 churn traced with -j --metrics, %d rounds x %g s, interleaved; '
          'scraped: 50 scrapers in a loop and one client stalled on half a request' % (
              args.rounds, args.block_secs))
    print_table('', ['config', 'conn/s', 'lost per block', 'consumer ns/ev', 'process ns/ev',
                     'scrapes', 'errors'],
                [[c, fmt(out[c]['conns_per_s_median']),
                  ' '.join(str(x) for x in out[c]['lost_per_block']),
                  fmt(out[c]['consumer_ns_per_event']), fmt(out[c]['process_ns_per_event']),
                  str(out[c]['scrapes']), str(out[c]['scrape_errors'])] for c in cfgs])
    print('consumer CPU per event, scraped / not: %s (target <= 1.10)' % fmt(ratio, '{:.3f}'))
    print('consumer CPU per event, scraped / scrapers at nginx: %s (what the server itself costs '
          'the consumer)' % fmt(decoy_ratio, '{:.3f}'))


def print_load(name, cfgs, summ, none_med, args):
    rows = []
    for c in cfgs:
        s = summ[c]
        cpu = None
        if s.get('user_ns_per_event') is not None:
            cpu = s['user_ns_per_event'] + s['sys_ns_per_event']
        rows.append([c, fmt(s['conns_per_s_median']), fmt(s.get('ratio_median'), '{:.3f}'),
                     fmt(s.get('ratio_paired_median'), '{:.3f}'),
                     ' '.join(str(x) for x in s.get('lost_per_block', [])) or '-',
                     fmt(s.get('state_prog_avg_ns')), fmt(s.get('bpf_ns_per_conn')),
                     fmt(cpu), fmt(s.get('cpu_pct_median'), '{:.0f}%'),
                     fmt(s['max_rss_bytes'] / 2**20 if s.get('max_rss_bytes') else None,
                         '{:.1f}')])
    print_table('Load %s: %d rounds x %d s, interleaved, bpf_stats off (no tracer median '
                '%.0f conn/s); state ns/run and BPF ns/conn from one more round with bpf_stats '
                'on' % (name, args.rounds, args.block_secs, none_med or 0),
        ['config', 'conn/s', 'ratio', 'paired', 'lost per block', 'state ns/run',
         'BPF ns/conn', 'CPU ns/ev', 'CPU', 'maxRSS MiB'], rows)
    rows = []
    for c in cfgs:
        for pn, e in sorted(summ[c].get('bpf', {}).items(), key=lambda kv: -kv[1]['run_time_ns']):
            rows.append([c, pn, e['run_cnt'], fmt(e['avg_ns']),
                         fmt(e['runs_per_conn'], '{:.2f}'), fmt(e['ns_per_conn'])])
    if rows:
        print_table('BPF programs under %s (bpf_stats)' % name,
                    ['config', 'program', 'runs', 'ns/run', 'runs/conn', 'ns/conn'], rows)


def phase_saturation(args, res):
    """Rate-limited steps in --sat-mode up to its no-tracer maximum, then flat
    out in both modes with more and more clients. Reset-mode clients never
    block (no FIN to wait for), so every one of them competes with the
    tracer for CPU: the hardest case for a single consumer thread."""
    none_med = (res.get('overhead') or {}).get('none_conns_per_s_median')
    servers = ['--servers', str(args.servers)]
    if not none_med or args.sat_mode != args.mode:
        b = run_block(args, 'none', ['--mode', args.sat_mode, '--clients', str(args.clients)] +
                      servers, args.sat_secs, 'saturation reference')
        none_med = b['churn']['conns_per_s']
    steps = []
    for f in args.sat_fractions:
        steps.append({'mode': args.sat_mode, 'target': round(none_med * f), 'clients': args.clients})
    for mode in (args.sat_mode, 'reset' if args.sat_mode == 'graceful' else 'graceful'):
        for c in args.sat_clients:
            steps.append({'mode': mode, 'target': 0, 'clients': c})
    out = []
    for st in steps:
        out.append(saturation_step(args, st, servers))
    # Informational, not counted in the verdict: the same hardest step with
    # the tracer at a higher priority (is it CPU share or capacity?).
    extra = []
    if not args.quick:
        worst = max(out, key=lambda r: (r['lost'], r['conns_per_s']))
        if worst['lost']:
            st = {'mode': worst['mode'], 'target': 0, 'clients': worst['clients'],
                  'prefix': ['nice', '-n', '-10']}
            extra.append(saturation_step(args, st, servers))
    tcpstates_row = None
    if args.tcpstates and not args.no_tcpstates:
        c = max(args.sat_clients) if args.sat_clients else args.clients
        b = run_block(args, 'tcpstates', ['--mode', args.sat_mode, '--clients', str(c)] + servers,
                      args.sat_secs, 'saturation tcpstates')
        e = b['end']
        ev, lost = e.get('events') or 0, e.get('lost') or 0
        tcpstates_row = {'mode': args.sat_mode, 'clients': c,
                         'conns_per_s': b['churn']['conns_per_s'],
                         'events_per_s': ev / b['churn']['duration_s'], 'events': ev,
                         'lost': lost, 'lost_pct': 100.0 * lost / (ev + lost) if ev + lost else 0,
                         'noisy': b['noisy']}
        log('saturation tcpstates %s clients %d -> %.0f conn/s, lost %d' % (
            args.sat_mode, c, tcpstates_row['conns_per_s'], lost))
    zero = [r for r in out if r['lost'] == 0]
    top = max(out, key=lambda r: r['conns_per_s'])
    lossy = [r for r in out if r['lost']]
    res['saturation'] = {
        'mode': args.sat_mode, 'block_secs': args.sat_secs, 'ringbuf': 'default',
        'none_conns_per_s': none_med, 'steps': out, 'informational': extra,
        'tcpstates_at_max': tcpstates_row,
        'highest_rate_zero_loss': max((r['conns_per_s'] for r in zero), default=None),
        'highest_rate': top['conns_per_s'], 'highest_rate_step': '%s %s clients' % (
            top['mode'], top['clients']),
        'lost_at_highest': top['lost'], 'lost_pct_at_highest': top['lost_pct'],
        'steps_with_loss': len(lossy), 'lost_total': sum(r['lost'] for r in out),
        'worst_lost_pct': max((r['lost_pct'] for r in out), default=0.0),
    }
    rows = [[r['mode'] + (' (nice -10)' if r.get('nice') else ''),
             fmt(r['target_conns_per_s'], '{}', 'max'), r['clients'], fmt(r['conns_per_s']),
             fmt(r['events_per_s']), r['lost'], fmt(r['lost_pct'], '{:.2f}%'),
             fmt(r['tracer_cpu_pct'], '{:.0f}%'), fmt(r['machine_busy_pct'], '{:.0f}%'),
             fmt(r['state_prog_avg_ns']), 'yes' if r['noisy'] else '']
            for r in out + extra]
    if tcpstates_row:
        rows.append(['tcpstates ' + tcpstates_row['mode'], 'max', tcpstates_row['clients'],
                     fmt(tcpstates_row['conns_per_s']), fmt(tcpstates_row['events_per_s']),
                     tcpstates_row['lost'], fmt(tcpstates_row['lost_pct'], '{:.2f}%'), '-', '-',
                     '-', 'yes' if tcpstates_row['noisy'] else ''])
    print_table('Saturation: tcpstate-trace -j, default ring, %g s per step (no-tracer %s '
                'median %.0f conn/s)' % (args.sat_secs, args.sat_mode, none_med),
                ['mode', 'target conn/s', 'clients', 'conn/s', 'events/s', 'lost', 'lost%',
                 'tracer CPU', 'machine', 'state ns/run', 'noisy'], rows)
    sat = res['saturation']
    print('highest rate with zero lost events: %s conn/s; at the highest rate (%.0f conn/s, %s) '
          '%d lost (%.2f%%); %d of %d steps lost events (worst %.1f%%)' % (
              fmt(sat['highest_rate_zero_loss']), top['conns_per_s'], sat['highest_rate_step'],
              top['lost'], top['lost_pct'], len(lossy), len(out), sat['worst_lost_pct']))
    if extra:
        print('(nice -10 row: informational, not in the verdict)')


def saturation_step(args, st, servers):
    opts = ['--mode', st['mode'], '--clients', str(st['clients']), '--rate',
            str(st['target'])] + servers
    b = run_block(args, 'trace-j', opts, args.sat_secs, 'saturation', prefix=st.get('prefix'))
    e = b['end']
    ev, lost = e.get('events') or 0, e.get('lost') or 0
    row = {'mode': st['mode'], 'nice': bool(st.get('prefix')),
           'target_conns_per_s': st['target'] or None, 'clients': st['clients'],
           'conns_per_s': b['churn']['conns_per_s'],
           'events_per_s': ev / b['churn']['duration_s'],
           'events': ev, 'lost': lost,
           'lost_pct': 100.0 * lost / (ev + lost) if ev + lost else 0.0,
           'tracer_cpu_pct': 100 * (b.get('user_s', 0) + b.get('sys_s', 0)) / b['window_s']
           if 'window_s' in b else None,
           'machine_busy_pct': b['machine_busy_pct'],
           'state_prog_avg_ns': None, 'noisy': b['noisy'], 'end': e,
           'errors': b['churn']['errors']}
    sp = {n: p for n, p in b['bpf'].items() if STATE_PROG_RE['tracer'].search(n)}
    rc = sum(p['run_cnt'] for p in sp.values())
    if rc:
        row['state_prog_avg_ns'] = sum(p['run_time_ns'] for p in sp.values()) / rc
    log('saturation %s%s target %-6s clients %-3d -> %8.0f conn/s, %8.0f events/s, lost %d%s' % (
        st['mode'], ' (nice -10)' if st.get('prefix') else '', st['target'] or 'max',
        st['clients'], row['conns_per_s'], row['events_per_s'], lost,
        ' (noisy)' if b['noisy'] else ''))
    return row


def phase_memory(args, res):
    """Retried at half the pace when the tracer lost events while the
    connections were opened (a busy machine): the count would be wrong."""
    attempts = []
    rate = args.memory_rate
    for attempt in range(2 if args.quick else 3):
        m = memory_once(args, rate)
        attempts.append({k: m[k] for k in ('open_rate', 'lost_while_opening', 'rss_bytes_per_socket',
                                           'busy_before_pct', 'foreign_progs_before')})
        if not m['lost_while_opening'] or attempt == (1 if args.quick else 2):
            break
        log('memory: %d events lost while opening at %d conn/s; again at %d conn/s' % (
            m['lost_while_opening'], rate, rate // 2))
        rate //= 2
    m['attempts'] = attempts
    res['memory'] = m
    print_memory(m)


def memory_once(args, rate):
    n = args.memory_conns
    sockets = 2 * n
    max_sockets = 65536
    while max_sockets < sockets + 16384:
        max_sockets *= 2
    argv = [args.tracer, '-j', '--max-sockets', str(max_sockets)]
    pre, busy, _ = wait_quiet(args)
    tool = Tool('memory', 'tracer', argv, args.tmpdir, keep_lost=True)
    tool.start()
    own_maps = tool.map_ids
    time.sleep(1.0)
    pid = tool.proc.pid
    before = proc_mem(pid)

    def wait_idle():
        # The tracer has consumed everything when its CPU time stops moving.
        last, still = None, 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            c = proc_cpu(pid)
            still = still + 1 if c == last else 0
            if still >= 5:
                return
            last = c
            time.sleep(0.2)

    # Two halves, so the slope between them can be told from the offset:
    # the first entries reuse heap that loading the BPF object freed.
    holds, helds = [], []
    for part in (n // 2, n - n // 2):
        hold = subprocess.Popen([args.churn, '--mode', 'hold', '--connections', str(part),
                                 '--rate', str(rate)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        children.append(hold)
        holds.append(hold)
        line = hold.stdout.readline()
        if not line:
            tool.stop()
            raise RuntimeError('churn --mode hold failed: ' + hold.stderr.read().strip())
        helds.append(json.loads(line))
        wait_idle()
        if len(holds) == 1:
            mid = proc_mem(pid)
    after = proc_mem(pid)
    time.sleep(1.2)     # the tracer reports drops once a second
    lost_held = tool.lost_so_far()
    released = []
    for hold in holds:
        hold.send_signal(signal.SIGTERM)
        released.append(json.loads(hold.stdout.readline() or '{}'))
        hold.wait(timeout=120)
        children.remove(hold)
    time.sleep(1.5)
    after_release = proc_mem(pid) if tool.alive() else {}
    held = {'connections': sum(h['connections'] for h in helds),
            'first_half': helds[0], 'second_half': helds[1]}
    maps = bpf_maps()
    kmem = sum(maps[i].get('bytes_memlock', 0) for i in own_maps if i in maps)
    end = tool.stop()
    opened = held['connections']
    tracked = 2 * opened
    d_rss = after['VmRSS'] - before['VmRSS']
    d_anon = after.get('RssAnon', 0) - before.get('RssAnon', 0)
    second = helds[1]['connections']
    slope = (after['VmRSS'] - mid['VmRSS']) / (2 * second) if second else None
    m = {
        'connections_requested': n, 'connections_held': opened, 'sockets_tracked': tracked,
        'hold': held, 'released': released, 'tracer_argv': argv,
        'rss_before': before, 'rss_after': after, 'rss_after_release': after_release,
        'delta_rss_bytes': d_rss, 'delta_anon_bytes': d_anon,
        'rss_mid': mid,
        'rss_bytes_per_socket_overall': d_rss / tracked if tracked else None,
        # The marginal cost, second half only: what the target is checked on.
        'rss_bytes_per_socket': slope,
        'rss_bytes_per_connection_pair': 2 * slope if slope is not None else None,
        'bpf_map_bytes_memlock': kmem, 'end': end, 'open_rate': rate,
        'lost_while_opening': lost_held, 'busy_before_pct': round(busy, 1),
        'foreign_progs_before': sorted({p['name'] for p in pre.values()}),
    }
    if lost_held:
        m['warning'] = ('%d events lost while the connections were opened: fewer sockets '
                        'tracked than opened, bytes per socket understated' % lost_held)
    return m


def print_memory(m):
    mib = 2 ** 20
    before, after, after_release = m['rss_before'], m['rss_after'], m['rss_after_release']
    opened, tracked, end = m['connections_held'], m['sockets_tracked'], m['end']
    d_rss, kmem, lost_held = m['delta_rss_bytes'], m['bpf_map_bytes_memlock'], m['lost_while_opening']
    print_table('Memory: tracer RSS with %d connections (%d sockets, both ends on loopback) '
                'opened and held' % (opened, tracked),
                ['', 'VmRSS MiB', 'RssAnon MiB', 'VmHWM MiB'],
                [['before', '%.1f' % (before['VmRSS'] / mib), '%.1f' % (before.get('RssAnon', 0) / mib),
                  '%.1f' % (before['VmHWM'] / mib)],
                 ['half held', '%.1f' % (m['rss_mid']['VmRSS'] / mib),
                  '%.1f' % (m['rss_mid'].get('RssAnon', 0) / mib), '%.1f' % (m['rss_mid']['VmHWM'] / mib)],
                 ['held', '%.1f' % (after['VmRSS'] / mib), '%.1f' % (after.get('RssAnon', 0) / mib),
                  '%.1f' % (after['VmHWM'] / mib)],
                 ['released', fmt(after_release.get('VmRSS', 0) / mib, '{:.1f}'),
                  fmt(after_release.get('RssAnon', 0) / mib, '{:.1f}'),
                  fmt(after_release.get('VmHWM', 0) / mib, '{:.1f}')]])
    print('RSS growth %.1f MiB in all (%.0f B per socket, the first entries reuse freed heap); '
          'second half: %.0f bytes per tracked socket, %.0f per connection (2 sockets); '
          'BPF maps (kernel memory, fixed): %.1f MiB; opened and closed at %d conn/s; lost '
          'while opening %d, in all %s (events %s); socket table full %s' % (
              d_rss / mib, m['rss_bytes_per_socket_overall'] or 0,
              m['rss_bytes_per_socket'] or 0, m['rss_bytes_per_connection_pair'] or 0,
              kmem / mib, m['open_rate'], lost_held, end.get('lost'), end.get('events'),
              end.get('socket_table_full')))
    if lost_held:
        print('WARNING: ' + m['warning'])


def evaluate(res):
    out = []

    def add(name, target, measured, ok, note=''):
        out.append({'target': name, 'goal': target, 'measured': measured,
                    'pass': ok, 'note': note})

    sat = res.get('saturation')
    if sat:
        add('zero lost events at the highest churn (default ring)', 'lost = 0',
            '%d lost (%.2f%%) at the highest rate, %.0f conn/s (%s); %d of %d steps lost '
            '(worst %.1f%%)' % (sat['lost_at_highest'], sat['lost_pct_at_highest'],
                                sat['highest_rate'], sat['highest_rate_step'],
                                sat['steps_with_loss'], len(sat['steps']), sat['worst_lost_pct']),
            sat['lost_at_highest'] == 0 and sat['steps_with_loss'] == 0)
    ov = (res.get('overhead') or {}).get('summary', {})
    s = ov.get('trace-j')
    if s:
        v = s.get('state_prog_avg_ns')
        add('ns per inet_sock_set_state program run', '<= %d' % TARGETS['state_prog_ns'],
            fmt(v) + ' (%s)' % s.get('state_prog', '?'),
            v is not None and v <= TARGETS['state_prog_ns'])
        v = s.get('ratio_median')
        add('throughput vs no tracer', '>= %.2f' % TARGETS['throughput_ratio'], fmt(v, '{:.3f}'),
            v is not None and v >= TARGETS['throughput_ratio'])
        v = s.get('user_ns_per_event')
        add('user-space CPU per event', '<= %d ns' % TARGETS['user_cpu_ns_per_event'],
            fmt(v) + ' ns', v is not None and v <= TARGETS['user_cpu_ns_per_event'])
    mem = res.get('memory')
    if mem and mem.get('rss_bytes_per_socket') is not None:
        v = mem['rss_bytes_per_socket']
        add('RSS per tracked connection (socket)', '<= %d B' % TARGETS['rss_bytes_per_conn'],
            '%.0f B marginal (%.0f B per 2-socket connection; %.0f B averaged from the start)' % (
                v, mem['rss_bytes_per_connection_pair'], mem['rss_bytes_per_socket_overall']),
            v <= TARGETS['rss_bytes_per_conn'] and not mem.get('lost_while_opening'),
            'events were lost while opening: not valid' if mem.get('lost_while_opening') else '')
    res['targets'] = out
    print_table('Targets (issue 8)', ['target', 'goal', 'measured', 'result'],
                [[t['target'], t['goal'], t['measured'], 'PASS' if t['pass'] else 'MISS']
                 for t in out])


# ---- main ----

def build_churn(tmpdir):
    cc = shutil.which('cc') or shutil.which('gcc') or shutil.which('clang')
    if not cc:
        die('no C compiler to build churn.c (apt-get install gcc), or pass --churn')
    out = os.path.join(tmpdir, 'churn')
    subprocess.run([cc, '-O2', '-Wall', '-std=gnu11', '-pthread', '-o', out,
                    os.path.join(HERE, 'churn.c')], check=True)
    return out


def tool_version(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return None


def main():
    ap = argparse.ArgumentParser(
        prog='run-bench',
        description='Overhead, loss, saturation and memory benchmark of tcpstate-trace, '
                    'side by side with libbpf-tools tcpstates. Needs root.')
    ap.add_argument('--tracer', default='./tcpstate-trace', help='tracer binary (default %(default)s)')
    ap.add_argument('--tcpstates', default=None,
                    help='libbpf-tools tcpstates binary (default: found in PATH or /usr/sbin)')
    ap.add_argument('--no-tcpstates', action='store_true', help='leave tcpstates out')
    ap.add_argument('--churn', default=None, help='churn binary (default: build churn.c here)')
    ap.add_argument('--json-out', default=os.path.join(HERE, 'results.json'),
                    help='JSON results file (default %(default)s)')
    ap.add_argument('--quick', action='store_true', help='a shorter run, under 2 minutes')
    ap.add_argument('--rounds', type=int, help='overhead rounds (default 5, quick 2)')
    ap.add_argument('--block-secs', type=float, help='seconds per overhead block (default 8, quick 4)')
    ap.add_argument('--configs', default=None,
                    help='comma-separated overhead configs: none, trace-j, trace-j-noalert, '
                         'trace-text, tcpstates (default: none,trace-j,trace-j-noalert,tcpstates)')
    ap.add_argument('--mode', default='graceful', choices=['graceful', 'reset'],
                    help='churn mode in the overhead blocks (default %(default)s)')
    ap.add_argument('--clients', type=int, default=4, help='churn client threads (default 4)')
    ap.add_argument('--servers', type=int, default=2, help='churn server threads (default 2)')
    ap.add_argument('--sat-mode', default=None, choices=['graceful', 'reset'],
                    help='churn mode in the saturation run (default: --mode)')
    ap.add_argument('--sat-secs', type=float, help='seconds per saturation step (default 6, quick 3)')
    ap.add_argument('--memory-conns', type=int, help='connections held in the memory run '
                    '(default 100000, quick 20000)')
    ap.add_argument('--memory-rate', type=int, default=20000,
                    help='connections/s at which the memory run opens and closes them, slow '
                         'enough for the tracer to lose nothing (default %(default)s)')
    ap.add_argument('--skip', default='', help='comma-separated phases to skip: load, '
                    'scrape, overhead, saturation, memory')
    ap.add_argument('--wait-quiet', type=float, default=None,
                    help='before each block wait up to SECS for other BPF programs to go and '
                         'the machine to idle (another tracer traces the churn too; default 20, '
                         'quick 5; at most 120 s, quick 15 s, in the whole run)')
    args = ap.parse_args()

    q = args.quick
    args.rounds = args.rounds or (2 if q else 5)
    args.block_secs = args.block_secs or (4 if q else 8)
    args.sat_secs = args.sat_secs or (3 if q else 6)
    args.sat_mode = args.sat_mode or args.mode
    args.memory_conns = args.memory_conns or (20000 if q else 100000)
    args.wait_quiet = args.wait_quiet if args.wait_quiet is not None else (5 if q else 20)
    args.wait_budget = 15 if q else 120   # seconds of waiting in the whole run
    args.sat_fractions = [0.5, 1.0] if q else [0.25, 0.5, 0.75, 1.0]
    args.sat_clients = [8] if q else [4, 8, 16]
    skip = set(x for x in args.skip.split(',') if x)
    if skip - {'load', 'scrape', 'overhead', 'saturation', 'memory'}:
        die('--skip takes load, scrape, overhead, saturation, memory', 2)
    args.nginx = shutil.which('nginx') or '/usr/sbin/nginx'
    args.wrk = shutil.which('wrk') or '/usr/bin/wrk'
    if 'load' not in skip and not (os.access(args.nginx, os.X_OK) and os.access(args.wrk, os.X_OK)):
        die('the load phase needs nginx and wrk (run-bench installs them; or --skip load)')

    if os.geteuid() != 0:
        die('needs root (BPF programs, kernel.bpf_stats_enabled)')
    if not (os.path.isfile(args.tracer) and os.access(args.tracer, os.X_OK)):
        die('no tracer binary at %s (build it, or pass --tracer PATH)' % args.tracer)
    args.tracer = os.path.abspath(args.tracer)
    if not shutil.which('bpftool'):
        die('bpftool not found (apt-get install bpftool)')
    if args.no_tcpstates:
        args.tcpstates = None
    elif args.tcpstates is None:
        args.tcpstates = shutil.which('tcpstates') or (
            '/usr/sbin/tcpstates' if os.access('/usr/sbin/tcpstates', os.X_OK) else None)
        if not args.tcpstates:
            log('tcpstates not installed (apt-get install libbpf-tools): left out')
    default_cfgs = ['none', 'trace-j', 'trace-j-noalert'] + (['tcpstates'] if args.tcpstates else [])
    args.configs = args.configs.split(',') if args.configs else default_cfgs
    for c in args.configs:
        if c not in ('none', 'trace-j', 'trace-j-noalert', 'trace-text', 'tcpstates'):
            die('unknown config %r' % c, 2)
        if c == 'tcpstates' and not args.tcpstates:
            die('config tcpstates asked for, but no tcpstates binary', 2)
    if 'none' not in args.configs:
        args.configs.insert(0, 'none')

    res = {'meta': {
        'started': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
        'kernel': platform.release(), 'machine': platform.machine(), 'cpus': os.cpu_count(),
        'tracer': args.tracer, 'tracer_version': tool_version([args.tracer, '--version']),
        'tcpstates': args.tcpstates,
        'tcpstates_version': tool_version([args.tcpstates, '--version']) if args.tcpstates else None,
        'quick': q, 'argv': sys.argv[1:],
        'notes': 'bpf_stats enabled for the whole run (adds two clock reads per program run '
                 'to every traced config) except the load phase timed rounds, whose BPF figures '
                 'come from one more round with it on; tcpstate-trace stdout to /dev/null, tcpstates '
                 'stdout counted by wc -l; CPU from /proc/PID/stat over the churn window.',
    }, 'targets_spec': TARGETS}

    t_start = time.monotonic()
    stats_was = None
    with tempfile.TemporaryDirectory(prefix='tcpstate-bench.') as tmpdir:
        args.tmpdir = tmpdir
        args.churn = os.path.abspath(args.churn) if args.churn else build_churn(tmpdir)
        try:
            stats_was = sysctl_get('kernel.bpf_stats_enabled')
            sysctl_set('kernel.bpf_stats_enabled', 1)
            res['meta']['tw_buckets'] = sysctl_get('net.ipv4.tcp_max_tw_buckets')
            # Warm-up: page cache, listeners, CPU frequency; not recorded.
            run_churn(args, ['--mode', args.mode, '--clients', str(args.clients),
                             '--servers', str(args.servers)], 1.5)
            if 'load' not in skip:
                phase_load(args, res)
            if 'scrape' not in skip:
                phase_scrape(args, res)
            if 'overhead' not in skip:
                phase_overhead(args, res)
            if 'saturation' not in skip:
                phase_saturation(args, res)
            if 'memory' not in skip:
                phase_memory(args, res)
        except KeyboardInterrupt:
            log('interrupted; writing what was measured')
            res['interrupted'] = True
        finally:
            for p in list(children):
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)
                    try:
                        p.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        p.kill()
            if stats_was is not None:
                sysctl_set('kernel.bpf_stats_enabled', stats_was)
    evaluate(res)
    res['meta']['elapsed_s'] = round(time.monotonic() - t_start, 1)
    os.makedirs(os.path.dirname(os.path.abspath(args.json_out)), exist_ok=True)
    with open(args.json_out, 'w') as f:
        json.dump(res, f, indent=1)
        f.write('\n')
    print('\nelapsed %.0f s; JSON written to %s' % (res['meta']['elapsed_s'], args.json_out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
