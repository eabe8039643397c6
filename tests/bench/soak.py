#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""soak: does the tracer's memory stay flat while records are lost?

Runs loopback churn (tests/bench/churn.c) for --minutes with the tracer (text
output to /dev/null; its warnings say what was lost) on a small ring buffer
(--ringbuf, default 64K) so that records are lost all the time, and samples the tracer's RSS every --every seconds. Each run is in a
network namespace of its own (the tracer follows its own namespace), so only
the churn's sockets count. At the end it compares what the tracer holds open
with what the kernel has.

  sudo tests/bench/soak.py --tracer ./tcpstate-trace [--minutes 10]

Prints one line per sample and a verdict; exits 1 if RSS over the second
half grew by more than --max-growth (default 10%). Standard library only.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        m = re.search(r'^VmRSS:\s+(\d+) kB', f.read(), re.M)
    return int(m.group(1)) if m else 0


def build_churn(tmp):
    out = os.path.join(tmp, 'churn')
    subprocess.run(['cc', '-O2', '-pthread', os.path.join(HERE, 'churn.c'), '-o', out],
                   check=True)
    return out


def inner(args):
    """In the fresh namespace: lo up, tracer, churn, samples."""
    subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
    err = open(os.path.join(args.tmp, 'tracer.err'), 'w+')
    tracer = subprocess.Popen([args.tracer, '--ringbuf', args.ringbuf],
                              stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 30
    while 'tracing TCP state' not in open(err.name).read():
        if tracer.poll() is not None or time.monotonic() > deadline:
            sys.exit('soak: the tracer did not start: ' + open(err.name).read()[-300:])
        time.sleep(0.1)
    secs = args.minutes * 60
    churn = subprocess.Popen([args.churn, '--duration', str(secs), '--clients', '2',
                              '--servers', '2'], stdout=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    samples = []
    while churn.poll() is None:
        time.sleep(args.every)
        t = time.monotonic() - t0
        kib = rss_kib(tracer.pid)
        lost = re.findall(r'ring buffer full; (\d+) in all', open(err.name).read())
        samples.append({'t_s': round(t), 'rss_kib': kib, 'lost': int(lost[-1]) if lost else 0})
        print('soak: %5d s  RSS %7d KiB  lost so far %s' % (t, kib, samples[-1]['lost']),
              flush=True)
    result = json.loads(churn.stdout.read().strip().splitlines()[-1])
    kernel = len(subprocess.run(['ss', '-Htan'], capture_output=True, text=True).stdout
                 .splitlines())
    tracer.send_signal(2)
    tracer.wait(timeout=60)
    text = open(err.name).read()
    m = re.search(r'connections: (\d+) seen, (\d+) open', text)
    gone = re.search(r'(\d+) connections ended unseen', text)
    print(json.dumps({'samples': samples, 'connections': result.get('connections'),
                      'kernel_sockets_at_end': kernel,
                      'tracer_open_at_end': int(m.group(2)) if m else None,
                      'gone': int(gone.group(1)) if gone else 0}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--tracer', default='./tcpstate-trace')
    ap.add_argument('--minutes', type=float, default=10)
    ap.add_argument('--every', type=float, default=30, help='seconds between samples')
    ap.add_argument('--ringbuf', default='64K')
    ap.add_argument('--max-growth', type=float, default=0.10)
    ap.add_argument('--inner', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--churn', help=argparse.SUPPRESS)
    ap.add_argument('--tmp', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit('soak: needs root (BPF, a network namespace)')
    args.tracer = os.path.abspath(args.tracer)
    if args.inner:
        return inner(args)
    with tempfile.TemporaryDirectory(prefix='tcpstate-soak.') as tmp:
        cmd = ['unshare', '-n', sys.executable, os.path.abspath(__file__), '--inner',
               '--tracer', args.tracer, '--minutes', str(args.minutes), '--every',
               str(args.every), '--ringbuf', args.ringbuf, '--churn', build_churn(tmp),
               '--tmp', tmp]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        lines = p.stdout.splitlines()
        for ln in lines[:-1]:
            print(ln)
        if p.returncode != 0 or not lines:
            return p.returncode or 1
        r = json.loads(lines[-1])
    s = r['samples']
    half = [x['rss_kib'] for x in s[len(s) // 2:]] or [0]
    growth = (half[-1] - min(half)) / min(half) if min(half) else 0.0
    print('soak: %d connections, %d records lost; RSS over the second half %d..%d KiB '
          '(growth %.1f%%); at the end the kernel had %d sockets, the tracer held %s open, '
          '%d ended as gone' % (r['connections'], s[-1]['lost'] if s else 0, min(half),
                                max(half), 100 * growth, r['kernel_sockets_at_end'],
                                r['tracer_open_at_end'], r['gone']))
    return 0 if growth <= args.max_growth else 1


if __name__ == '__main__':
    sys.exit(main())
