/** The tests' one way to wait: waitFor (test/helpers/wait.ts). */
import { describe, expect, it } from 'vitest';
import { waitFor } from './wait.ts';

describe('waitFor', () => {
  it('resolves to the first truthy value', async () => {
    let calls = 0;
    const values = [false, null, undefined, 0, '', 'first', 'second'];
    expect(await waitFor('a value', () => values[calls++], { intervalMs: 1 })).toBe('first');
    expect(calls).toBe(6);
  });

  it('counts a check that throws as not yet', async () => {
    let calls = 0;
    const got = await waitFor(
      'a third call',
      async () => {
        expect(++calls).toBe(3);
        return calls;
      },
      { intervalMs: 1 },
    );
    expect(got).toBe(3);
  });

  it('fails past its deadline naming what it waited for, with the last error', async () => {
    const t0 = Date.now();
    await expect(
      waitFor(
        'the impossible',
        () => {
          throw new Error('not yet');
        },
        { timeoutMs: 100, intervalMs: 10 },
      ),
    ).rejects.toThrow('timed out after 100 ms waiting for the impossible; last check: not yet');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
  });
});
