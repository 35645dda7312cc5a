/**
 * Layout of the control block at the start of the shared memory, through which the calling
 * thread hands matmul panels to worker threads. Worker `w` owns the `SLOT_INTS` int32 words at
 * `w * SLOT_INTS`.
 *
 * A task's life: the caller moves STATE from IDLE to BUSY (compare-exchange, so a worker that is
 * idling out cannot race it), writes ARGS, increments SEQ and wakes the worker. The worker runs
 * the task, sets STATE back to IDLE, then sets DONE to the SEQ it ran and wakes the caller. A
 * worker idle for `IDLE_EXIT_MS` moves STATE from IDLE to EXITED and closes, so a finished
 * program is not kept alive by its workers.
 *
 * @module
 */

/** Int32 words per worker slot. */
export const SLOT_INTS = 32;
/** Bytes reserved at address 0 for the slots of up to 63 workers. */
export const CONTROL_BYTES = 64 * SLOT_INTS * 4;

/** Index of the worker state within a slot. */
export const STATE = 0;
/** Index of the task counter that the worker waits on. */
export const SEQ = 1;
/** Index of the last finished task number, which the caller waits on. */
export const DONE = 2;
/** Index of the first of the 14 matmul arguments. */
export const ARGS = 4;

export const STATE_STARTING = 0;
export const STATE_IDLE = 1;
export const STATE_BUSY = 2;
export const STATE_EXITED = 3;

/** How long a worker waits for work before it exits. */
export const IDLE_EXIT_MS = 1000;
