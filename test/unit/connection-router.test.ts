// connection-router.ts: the pieces of a round-robin hand-off it reads, on Node's real handles.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { hashKey, peerAddress, portOfKey } from '../../src/worker/connection-router.ts';

describe('connection router', () => {
  it("reads the port from node:cluster's round-robin keys (address may hold colons)", () => {
    // As node:cluster 22, 24 and 26 build them: `${address}:${port}:${addressType}:${fd}`.
    expect(portOfKey(':::3000:6:undefined')).toBe(3000);
    expect(portOfKey('0.0.0.0:8080:4:undefined')).toBe(8080);
    expect(portOfKey('null:9000:4:undefined')).toBe(9000);
    expect(portOfKey('/run/app.sock:-1:-1:undefined')).toBeNull();
  });

  it('spreads addresses over slots, the same way every time', () => {
    expect(hashKey('127.0.0.2')).toBe(hashKey('127.0.0.2'));
    const slots = new Set(Array.from({ length: 50 }, (_, i) => hashKey(`10.0.${i >> 8}.${i & 255}`) % 2));
    expect(slots).toEqual(new Set([0, 1]));
  });

  it("takes a connection's remote address from its handle", async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.7' });
    const socket = await accepted;
    expect(peerAddress((socket as unknown as { _handle: unknown })._handle)).toBe('127.0.0.7');
    expect(peerAddress(null)).toBe('');
    client.destroy();
    socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
});
