/**
 * A Redis command whose big argument goes to the socket as it is: ioredis
 * builds every command with a Buffer argument into one new buffer (a copy
 * of a 64 MiB value, about 35 ms), and a pipeline or MULTI concatenates its
 * commands once more. Here the command's header is written, then the value
 * (one buffer, or the chunks it came in from an executor's pipe), then the
 * closing CRLF that ioredis writes for it, so the value is never copied in
 * Node. The reply is read by ioredis as any command's.
 *
 * Only for a command sent on its own (`redis.sendCommand`): inside a
 * pipeline or MULTI, ioredis writes commands to a buffer of its own, and
 * writing straight to the socket would put this one out of order.
 */
import { Command, type Redis } from 'ioredis';

type Socket = { write(data: string | Uint8Array): boolean };

class UncopiedCommand extends Command {
  constructor(
    name: string,
    private readonly head: string[],
    private readonly value: readonly Buffer[],
  ) {
    super(name, [...head, '']);
  }

  override toWritable(socket: Socket): string {
    const size = this.value.reduce((n, chunk) => n + chunk.length, 0);
    let header = `*${this.head.length + 2}\r\n$${Buffer.byteLength(this.name)}\r\n${this.name}\r\n`;
    for (const arg of this.head) header += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
    socket.write(`${header}$${size}\r\n`);
    for (const chunk of this.value) if (chunk.length > 0) socket.write(chunk);
    return '\r\n';
  }
}

/**
 * HSETNX `key` `field` `value` with the value written to the socket
 * uncopied; resolves with 1 when it was set, 0 when the field held a value.
 */
export function hsetnxUncopied(redis: Redis, key: string, field: string, value: readonly Buffer[]): Promise<number> {
  return redis.sendCommand(new UncopiedCommand('hsetnx', [key, field], value)) as Promise<number>;
}
