#!/usr/bin/env python3
"""Raw HTTP clients for test/http/run.sh (stdlib only): what curl cannot send.

client.py raw PORT HEX          send bytes (hex), print the status code
client.py head PORT PATH        HEAD, print "status bytes-after-the-headers"
client.py bigheader PORT N      a request with an N-byte header, print the status
client.py biglength PORT N      announce Content-Length N, send nothing, print the status
client.py chunked PORT N        POST N bytes chunked, print the status
client.py slow PORT SECONDS     trickle a request one byte at a time for SECONDS,
                                 then print its status
client.py idle PORT N           open N keep-alive connections (one request each),
                                 then check a fresh request and a request on
                                 the oldest idle one; print "ok" or the failure
"""
import socket
import sys
import time


def status_of(sock):
    """Read until the status line is complete; return its code or 'closed'."""
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    if not data.startswith(b"HTTP/"):
        return "closed"
    return data.split(b" ", 2)[1].decode()


def read_response(sock):
    """One whole response with a Content-Length body; return (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return "closed", b""
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head.split(b" ", 2)[1].decode(), rest[:length]


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    return s


def send_all_tolerant(s, data):
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    arg = sys.argv[3] if len(sys.argv) > 3 else ""
    if cmd == "raw":
        s = connect(port)
        send_all_tolerant(s, bytes.fromhex(arg))
        print(status_of(s))
    elif cmd == "head":
        s = connect(port)
        s.sendall(b"HEAD " + (arg or "/").encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        print("%s %d" % (head.split(b" ", 2)[1].decode() if head.startswith(b"HTTP/") else "closed", len(rest)))
    elif cmd == "bigheader":
        s = connect(port)
        send_all_tolerant(s, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * int(arg) + b"\r\n\r\n")
        print(status_of(s))
    elif cmd == "biglength":
        s = connect(port)
        send_all_tolerant(s, b"POST /rpc/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: " + arg.encode() + b"\r\n\r\n")
        print(status_of(s))
    elif cmd == "chunked":
        s = connect(port)
        send_all_tolerant(s, b"POST /rpc/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n")
        left = int(arg)
        while left > 0:
            n = min(left, 16384)
            send_all_tolerant(s, b"%x\r\n" % n + b"a" * n + b"\r\n")
            left -= n
        send_all_tolerant(s, b"0\r\n\r\n")
        print(status_of(s))
    elif cmd == "slow":
        s = connect(port)
        req = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        pause = float(arg) / len(req)
        for i in range(len(req)):
            s.sendall(req[i:i + 1])
            time.sleep(pause)
        print(status_of(s))
    elif cmd == "idle":
        n = int(arg)
        socks = []
        for i in range(n):
            s = connect(port)
            socks.append(s)
        # a few of them make a request and stay open (keep-alive)
        for s in socks[:20]:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            st, _ = read_response(s)
            if st != "200":
                print("keep-alive request answered %s" % st)
                return
        fresh = connect(port)
        fresh.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        st, _ = read_response(fresh)
        if st != "200":
            print("fresh request with %d idle connections answered %s" % (n, st))
            return
        socks[0].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        st, _ = read_response(socks[0])
        if st != "200":
            print("request on an idle keep-alive connection answered %s" % st)
            return
        print("ok")
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
