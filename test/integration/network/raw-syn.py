# Sends one TCP SYN as a raw Ethernet frame (as a container with CAP_NET_RAW can) and prints
# "synack" if the addressed port answered, "nothing" otherwise. Run inside a test netns only.
# usage: raw-syn.py IFACE DST_MAC SRC_IP DST_IP DST_PORT
import socket, struct, sys, time, random
iface, dst_mac, src_ip, dst_ip, dst_port = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
def csum(data):
    if len(data) % 2: data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((iface, 0))
src_mac = s.getsockname()[4]
sport = random.randint(20000, 60000)
sip, dip = socket.inet_aton(src_ip), socket.inet_aton(dst_ip)
tcp = struct.pack("!HHIIBBHHH", sport, dst_port, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
tcp = tcp[:16] + struct.pack("!H", csum(sip + dip + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, sip, dip)
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
s.send(bytes.fromhex(dst_mac.replace(":", "")) + src_mac + b"\x08\x00" + ip + tcp)
s.settimeout(0.2)
deadline = time.time() + 1.5
while time.time() < deadline:
    try: frame = s.recv(2048)
    except socket.timeout: continue
    p = frame[14:]
    if len(p) < 40 or p[9] != 6: continue
    ihl = (p[0] & 15) * 4
    sp, dp = struct.unpack("!HH", p[ihl:ihl + 4])
    if sp == dst_port and dp == sport and p[ihl + 13] & 0x12 == 0x12:
        print("synack"); sys.exit(0)
print("nothing"); sys.exit(1)
