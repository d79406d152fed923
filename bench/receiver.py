# A stand-in for the X-Ray daemon's UDP side that costs little CPU, so it does not steal
# time from the load generator it shares a core with: it drains datagrams in a tight loop
# and counts datagrams and bytes. A control socket answers "count" and "reset".
import select
import socket

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
    if control in ready:
        msg, addr = control.recvfrom(64)
        if msg == b'reset':
            datagrams = 0
            total = 0
        control.sendto(('%d %d' % (datagrams, total)).encode(), addr)
