# A stand-in for the X-Ray daemon's UDP side: counts datagrams and bytes, and answers
# "count" and "reset" on a control socket. It shares a core with the load generator, so it
# is built to take as little from it as it can.
#
#   python3 receiver.py [poll_ms]
#
# poll_ms > 0 (the bench's default, 2): after draining the socket it sleeps that long, then
# drains everything that arrived meanwhile. Datagrams then land in the socket buffer
# without waking anyone, as they do at a daemon that is busy, or on a core of its own.
# poll_ms = 0: it blocks until each datagram arrives, so every datagram sent while it
# waits makes the kernel wake it on the load generator's core. On a small virtual machine
# that wake-up is costly for both cores, and it is not work the tracing SDK does.
import select
import socket
import sys
import time

poll = float(sys.argv[1]) / 1000 if len(sys.argv) > 1 else 0.0

data = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
data.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
data.bind(('127.0.0.1', 0))
control = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
control.bind(('127.0.0.1', 0))
print(data.getsockname()[1], control.getsockname()[1], flush=True)

buf = bytearray(70000)
datagrams = 0
total = 0
while True:
    ready, _, _ = select.select([data, control], [], [])
    if data in ready:
        while True:
            try:
                size = data.recv_into(buf, 0, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            datagrams += 1
            total += size
        if poll > 0:
            time.sleep(poll)
    if control in ready:
        msg, addr = control.recvfrom(64)
        if msg == b'reset':
            datagrams = 0
            total = 0
        control.sendto(('%d %d' % (datagrams, total)).encode(), addr)
