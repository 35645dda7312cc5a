/**
 * A worker thread of the WebAssembly backend: it instantiates the kernels over the shared memory
 * and runs the matmul panel ranges posted in its control slot (protocol in wasm_protocol.ts).
 *
 * @module
 */

/// <reference lib="deno.worker" />

import {
  ARGS,
  CONTROL_BYTES,
  DONE,
  IDLE_EXIT_MS,
  SEQ,
  SLOT_INTS,
  STATE,
  STATE_EXITED,
  STATE_IDLE,
  STATE_STARTING,
} from "./wasm_protocol.ts";

interface StartMessage {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  slot: number;
}

type MatmulFn = (...args: number[]) => void;

self.onmessage = async (event: MessageEvent<StartMessage>) => {
  const { module, memory, slot } = event.data;
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const matmul = instance.exports.matmul as MatmulFn;
  const control = new Int32Array(memory.buffer, 0, CONTROL_BYTES / 4);
  const base = slot * SLOT_INTS;
  const args = new Array<number>(14);

  let seen = Atomics.load(control, base + SEQ);
  Atomics.compareExchange(control, base + STATE, STATE_STARTING, STATE_IDLE);
  for (;;) {
    // Spin briefly, because the next product usually follows within microseconds; then sleep.
    let seq = seen;
    for (let spin = 0; spin < 20000 && seq === seen; spin++) {
      seq = Atomics.load(control, base + SEQ);
    }
    if (seq === seen) {
      Atomics.wait(control, base + SEQ, seen, IDLE_EXIT_MS);
      seq = Atomics.load(control, base + SEQ);
    }
    if (seq === seen) {
      // Timed out: exit unless the caller claimed this worker in the meantime.
      if (
        Atomics.compareExchange(control, base + STATE, STATE_IDLE, STATE_EXITED) === STATE_IDLE
      ) {
        self.close();
        return;
      }
      continue;
    }
    seen = seq;
    for (let i = 0; i < 14; i++) args[i] = control[base + ARGS + i];
    matmul(...args);
    Atomics.store(control, base + STATE, STATE_IDLE);
    Atomics.store(control, base + DONE, seq);
    Atomics.notify(control, base + DONE);
  }
};
