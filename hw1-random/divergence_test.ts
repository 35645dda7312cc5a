import assert from "node:assert/strict";
import { createTsBackend, type Loss, type Tensor } from "@nn/core";
import { ExplosionGuard } from "./divergence.ts";

/** A loss that returns the given values in turn, for driving the guard by hand. */
class ScriptedLoss implements Loss {
  readonly name = "scripted";
  #next = 0;
  readonly gradient = createTsBackend().zeros([1, 1]);

  constructor(readonly values: number[]) {}

  forward(_y: Tensor, _target: Tensor): number {
    return this.values[this.#next++];
  }

  backward(): Tensor {
    return this.gradient;
  }
}

const y = createTsBackend().zeros([1, 1]);

Deno.test("ExplosionGuard passes losses up to factor × the first", () => {
  const guard = new ExplosionGuard(new ScriptedLoss([2, 3, 1999, 2000]), { factor: 1000 });
  assert.deepEqual([1, 2, 3, 4].map(() => guard.forward(y, y)), [2, 3, 1999, 2000]);
  assert.equal(guard.explosion, null);
});

Deno.test("ExplosionGuard turns an exploding loss into Infinity", () => {
  const guard = new ExplosionGuard(new ScriptedLoss([2, 2001, 5000, 3]), { factor: 1000 });
  assert.deepEqual([1, 2, 3, 4].map(() => guard.forward(y, y)), [2, Infinity, Infinity, 3]);
  // The first exploding loss is the one kept.
  assert.deepEqual(guard.explosion, { loss: 2001, limit: 2000 });
});

Deno.test("ExplosionGuard takes the limit from the first positive finite loss", () => {
  const guard = new ExplosionGuard(new ScriptedLoss([NaN, 0, 0.5, 400, 600]), { factor: 1000 });
  const losses = [1, 2, 3, 4, 5].map(() => guard.forward(y, y));
  assert.ok(Number.isNaN(losses[0]));
  assert.deepEqual(losses.slice(1), [0, 0.5, 400, Infinity]);
  assert.deepEqual(guard.explosion, { loss: 600, limit: 500 });
});

Deno.test("ExplosionGuard passes the gradient through", () => {
  const inner = new ScriptedLoss([1]);
  const guard = new ExplosionGuard(inner, { factor: 10 });
  guard.forward(y, y);
  assert.equal(guard.backward(), inner.gradient);
  assert.equal(guard.name, "scripted");
});

Deno.test("ExplosionGuard rejects a factor of at most 1", () => {
  for (const factor of [1, 0.5, NaN, Infinity]) {
    assert.throws(() => new ExplosionGuard(new ScriptedLoss([]), { factor }), {
      name: "RangeError",
      message: `ExplosionGuard: factor must be a finite number above 1, got ${factor}`,
    });
  }
});
