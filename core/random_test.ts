import assert from "node:assert/strict";
import { Rng } from "./random.ts";

Deno.test("Rng.setState() continues the sequence of Rng.state()", () => {
  const original = new Rng(123);
  for (let i = 0; i < 10; i++) original.nextUint32();
  // An odd number of normals leaves the second value of a Box-Muller pair cached.
  original.normal();
  const state = original.state();
  assert.notEqual(state.spareNormal, null);

  const copy = new Rng(999);
  copy.setState(JSON.parse(JSON.stringify(state)));
  assert.equal(copy.seed, 999);
  assert.equal(copy.normal(), original.normal());
  for (let i = 0; i < 100; i++) assert.equal(copy.nextUint32(), original.nextUint32());
  assert.deepEqual(copy.state(), original.state());
});

Deno.test("Rng.setState() rejects invalid states", async (t) => {
  const rng = new Rng(1);
  const cases = [
    { name: "all words zero", state: { words: [0, 0, 0, 0], spareNormal: null } },
    { name: "word of 2^32", state: { words: [4294967296, 1, 2, 3], spareNormal: null } },
    { name: "three words", state: { words: [1, 2, 3], spareNormal: null } },
    { name: "NaN spare normal", state: { words: [1, 2, 3, 4], spareNormal: NaN } },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const before = rng.state();
      // deno-lint-ignore no-explicit-any
      assert.throws(() => rng.setState(c.state as any), { name: "RangeError" });
      assert.deepEqual(rng.state(), before, "a rejected state must leave the generator unchanged");
    });
  }
});

Deno.test("Rng.fillUint32() draws the nextUint32() sequence and advances alike", () => {
  const bulk = new Rng(42), single = new Rng(42);
  for (const length of [0, 1, 7, 1000]) {
    const drawn = bulk.fillUint32(new Uint32Array(length));
    const expected = Array.from({ length }, () => single.nextUint32());
    assert.deepEqual(Array.from(drawn), expected, `a fill of ${length}`);
    assert.deepEqual(bulk.state(), single.state(), `state after a fill of ${length}`);
  }
  assert.equal(bulk.nextUint32(), single.nextUint32());
});
