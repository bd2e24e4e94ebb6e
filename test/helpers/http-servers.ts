// Small HTTP and raw TCP servers for tests of hostile registries. Each file calls testServers() once, at
// its top level: the servers it starts, and their open connections, are closed when the file's tests end
// (a test that fails mid-body must not keep the process alive).
import { after } from 'node:test';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TestServers {
  /** An HTTP server on `address` (127.0.0.1 by default); resolves with `host:port`. */
  http(handler: Handler, address?: string): Promise<string>;
  /** A raw TCP server (for answers HTTP servers will not send); resolves with `host:port`. */
  raw(onConnection: (socket: Socket) => void, address?: string): Promise<string>;
}

export function testServers(): TestServers {
  const servers: (Server | NetServer)[] = [];
  after(() => {
    for (const s of servers) {
      (s as Server).closeAllConnections?.();
      s.close();
    }
  });
  async function listen(server: Server | NetServer, address: string): Promise<string> {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, address, resolve));
    return `${address.includes(':') ? `[${address}]` : address}:${(server.address() as { port: number }).port}`;
  }
  return {
    http: (handler, address = '127.0.0.1') => listen(createServer(handler), address),
    raw: (onConnection, address = '127.0.0.1') => listen(createNetServer(onConnection), address),
  };
}

export interface Sent {
  /** Bytes handed to the socket. */
  bytes: number;
  /** Whether every piece was written before the connection closed. */
  finished: boolean;
}

/**
 * Writes the pieces `next(bytesSoFar)` gives (undefined: the body is done), waiting for the socket to
 * drain, until the body is done or the client goes away; then ends the response. How many bytes a
 * server managed to hand to its socket is what tests assert caps with, never the client's memory.
 */
export async function writeWhileOpen(res: ServerResponse, next: (sent: number) => Uint8Array | undefined): Promise<Sent> {
  let closed = false;
  res.on('close', () => (closed = true));
  res.on('error', () => {});
  let sent = 0;
  let piece: Uint8Array | undefined;
  while (!closed && (piece = next(sent)) !== undefined) {
    const ok = res.write(piece);
    sent += piece.length;
    if (!ok) {
      await new Promise<void>((resolve) => {
        const go = (): void => {
          res.off('drain', go);
          res.off('close', go);
          resolve();
        };
        res.on('drain', go);
        res.on('close', go);
      });
    }
  }
  const finished = !closed && piece === undefined;
  res.end();
  return { bytes: sent, finished };
}
