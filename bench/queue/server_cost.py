#!/usr/bin/env python3
"""Server cost per request, beside queue_bench's own figures (not part of CI).

Starts `imgbatch up` on a fresh data dir, runs queue_bench (SQS cycles, then
/-/healthy) with `perf stat -I 250 -e task-clock,context-switches,
raw_syscalls:sys_enter` attached to the server, and prints one line: server
CPU per message and per request (from queue_bench) plus context switches and
syscalls per request. Those two come from the middle of each phase, as counts
per server CPU-second times queue_bench's CPU per request, so phase edges and
setup calls do not blur them. Needs perf with tracepoints (run as root).

usage: bench/queue/server_cost.py [--bin B] [--bench Q] [--seconds S] [--label L] [-- up args]
"""
import argparse, os, random, re, subprocess, sys, tempfile, time

KEY = 'AKIABENCHMARK0000001'
SECRET = 'bench-secret-key-000000000000000000000000'
EVENTS = ['task-clock', 'context-switches', 'raw_syscalls:sys_enter']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bin', default='build/release/src/cli/imgbatch')
    ap.add_argument('--bench', default='build/release/bench/queue/queue_bench')
    ap.add_argument('--seconds', type=float, default=5)
    ap.add_argument('--label', default='')
    ap.add_argument('up_args', nargs='*')
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix='imgbatch-server-cost.')
    port = str(20000 + random.randint(0, 9999))
    env = dict(os.environ, IMGBATCH_ACCESS_KEY_ID=KEY, IMGBATCH_SECRET_ACCESS_KEY=SECRET,
               AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET)
    server = subprocess.Popen([a.bin, 'up', '--data-dir', work + '/data', '--listen',
                               '127.0.0.1:' + port, '--max-workers', '0', '--log-level', 'warn',
                               *a.up_args], stdout=open(work + '/server.log', 'w'),
                              stderr=subprocess.STDOUT, env=env)
    for _ in range(100):
        if subprocess.run(['curl', '-sf', f'http://127.0.0.1:{port}/-/ready'],
                          capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    stat = subprocess.Popen(['perf', 'stat', '-I', '250', '-x', ',', '-e', ','.join(EVENTS),
                             '-p', str(server.pid), '-o', work + '/stat'])
    out = subprocess.run([a.bench, '--endpoint', f'http://127.0.0.1:{port}', '--connections',
                          '16', '--seconds', str(a.seconds), '--server-pid', str(server.pid)],
                         capture_output=True, text=True, env=env).stdout
    stat.send_signal(2)
    stat.wait()
    server.terminate()
    server.wait()

    msgs = float(re.search(r'cycles: (\d+) messages/s', out).group(1))
    us_msg = float(re.search(r'per message: server ([\d.]+) us', out).group(1))
    h = re.search(r'/-/healthy: (\d+) requests/s.*?server ([\d.]+) us CPU', out)
    h_rps, us_h = float(h.group(1)), float(h.group(2))
    rows = {}
    for line in open(work + '/stat'):
        f = line.strip().split(',')
        if line.startswith('#') or len(f) < 4:
            continue
        try:
            rows.setdefault(float(f[0]), {})[f[3]] = float(f[1])
        except ValueError:
            pass
    times = sorted(rows)
    busy = [t for t in times if rows[t].get('task-clock', 0) > 25]  # > 10% of a core
    start = busy[0] - 0.25 if busy else 0

    def per_request(lo, hi, us_per_request):
        tot = {e: sum(rows[t].get(e, 0) for t in times if lo < t <= hi) for e in EVENTS}
        per_ms = us_per_request / 1000 / max(tot['task-clock'], 1e-9)
        return tot['context-switches'] * per_ms, tot['raw_syscalls:sys_enter'] * per_ms

    s = a.seconds
    us_req = us_msg * 10 / 3  # send-batch(10), receive(10), delete-batch(10)
    cs_q, sys_q = per_request(start + 1.0, start + s - 0.5, us_req)
    cs_h, sys_h = per_request(start + s + 1.5, start + 2 * s - 0.5, us_h)
    load = ' '.join(open('/proc/loadavg').read().split()[:3])
    print(f'{a.label or a.bin}: SQS {msgs:.0f} msg/s, server {us_msg:.1f} us/msg = {us_req:.1f} '
          f'us/request, {cs_q:.2f} context switches and {sys_q:.2f} syscalls per request | '
          f'/-/healthy {h_rps:.0f} req/s, server {us_h:.1f} us/request, {cs_h:.2f} cs, '
          f'{sys_h:.2f} syscalls | load {load}')
    subprocess.run(['rm', '-rf', work])


if __name__ == '__main__':
    sys.exit(main())
