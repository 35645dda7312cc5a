import { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import { formatEta, Progress, type ProgressStream } from "./progress.ts";

/** Make a fake stream that records text, with a fixed terminal flag, and a clock moved by hand. */
function fakeOutput(terminal: boolean) {
  const chunks: string[] = [];
  const stream: ProgressStream = {
    // Accept at most 7 bytes per call to check that partial writes are completed.
    writeSync(data: Uint8Array): number {
      const n = Math.min(7, data.length);
      chunks.push(new TextDecoder().decode(data.subarray(0, n)));
      return n;
    },
    isTerminal: () => terminal,
  };
  const clock = { ms: 1000 };
  return { stream, clock, now: () => clock.ms, text: () => chunks.join("") };
}

Deno.test("formatEta() formats clock times", async (t) => {
  const cases: [number, string][] = [
    [0, "0:00"],
    [7.4, "0:07"],
    [59.6, "1:00"],
    [725, "12:05"],
    [3723, "1:02:03"],
    [36000, "10:00:00"],
    [NaN, "?"],
    [Infinity, "?"],
    [-1, "?"],
  ];
  for (const [seconds, expected] of cases) {
    await t.step(`${seconds} s gives ${expected}`, () => equal(formatEta(seconds), expected));
  }
});

Deno.test("Progress redraws in place on a terminal", () => {
  const out = fakeOutput(true);
  const bar = new Progress({
    total: 200,
    label: "epoch 1/3",
    stream: out.stream,
    now: out.now,
    columns: 200,
  });

  out.clock.ms += 2000;
  bar.update(50, "loss 0.512");
  equal(
    out.text(),
    "\repoch 1/3 [#####...............]  25% 50/200 elapsed 0:02 eta 0:06 25.0 it/s loss 0.512\x1b[K",
  );

  // Updates within 100 ms of the last redraw are skipped.
  out.clock.ms += 50;
  bar.update(60);
  equal(out.text().split("\r").length, 2);

  out.clock.ms += 50;
  bar.update(100, "loss 0.401");
  const lines = out.text().split("\r");
  equal(lines.length, 3);
  equal(
    lines[2],
    "epoch 1/3 [##########..........]  50% 100/200 elapsed 0:02 eta 0:02 47.6 it/s loss 0.401\x1b[K",
  );

  out.clock.ms += 1900;
  bar.done();
  const final = out.text().split("\r").at(-1)!;
  equal(
    final,
    "epoch 1/3 [##########..........]  50% 100/200 elapsed 0:04 eta 0:04 25.0 it/s loss 0.401\x1b[K\n",
  );
  ok(!out.text().slice(0, -1).includes("\n"), "only done() ends the line");
});

Deno.test("Progress draws the final step without waiting", () => {
  const out = fakeOutput(true);
  const bar = new Progress({ total: 10, stream: out.stream, now: out.now, columns: 200 });
  out.clock.ms += 1000;
  bar.update(9);
  out.clock.ms += 1;
  bar.update(10, "acc 93.1%");
  bar.done();
  const lines = out.text().split("\r");
  equal(lines.length, 4);
  equal(lines[2], lines[3].replace("\n", ""));
  equal(
    lines[3],
    "[####################] 100% 10/10 elapsed 0:01 eta 0:00 9.99 it/s acc 93.1%\x1b[K\n",
  );
});

Deno.test("Progress fits lines to the terminal width", async (t) => {
  await t.step("drops the bar first", () => {
    const out = fakeOutput(true);
    const bar = new Progress({ total: 10, stream: out.stream, now: out.now, columns: 60 });
    bar.update(1, "loss 0.231");
    equal(out.text(), "\r 10% 1/10 elapsed 0:00 eta ? ? it/s loss 0.231\x1b[K");
  });
  await t.step("then cuts the end", () => {
    const out = fakeOutput(true);
    const bar = new Progress({ total: 10, stream: out.stream, now: out.now, columns: 30 });
    bar.update(1, "a long note that does not fit on the line");
    const line = out.text().replace("\r", "").replace("\x1b[K", "");
    equal(line.length, 29);
    equal(line, " 10% 1/10 elapsed 0:00 eta ? ");
  });
});

Deno.test("Progress prints per 10% off a terminal", () => {
  const out = fakeOutput(false);
  const bar = new Progress({ total: 1000, label: "train", stream: out.stream, now: out.now });
  for (let step = 1; step <= 1000; step++) {
    out.clock.ms += 4;
    bar.update(step, `loss ${(1 / step).toFixed(3)}`);
  }
  bar.done();
  const lines = out.text().split("\n");
  equal(lines.pop(), "", "output ends with a line break");
  equal(lines.length, 10);
  equal(lines[0], "train  10% 100/1000 elapsed 0:00 eta 0:04 250 it/s loss 0.010");
  equal(lines[9], "train 100% 1000/1000 elapsed 0:04 eta 0:00 250 it/s loss 0.001");
  ok(!out.text().includes("\r"));
  ok(!out.text().includes("\x1b"));
});

Deno.test("Progress prints every 10 s when slow", () => {
  const out = fakeOutput(false);
  const bar = new Progress({ total: 1000, stream: out.stream, now: out.now, unit: "batch" });
  for (let step = 1; step <= 30; step++) {
    out.clock.ms += 1000;
    bar.update(step);
  }
  const lines = out.text().split("\n").filter((line) => line !== "");
  deepEqual(lines, [
    "  1% 10/1000 elapsed 0:10 eta 16:30 1.00 batch/s",
    "  2% 20/1000 elapsed 0:20 eta 16:20 1.00 batch/s",
    "  3% 30/1000 elapsed 0:30 eta 16:10 1.00 batch/s",
  ]);
});

Deno.test("Progress done() prints the last state once", async (t) => {
  await t.step("after a partial run", () => {
    const out = fakeOutput(false);
    const bar = new Progress({ total: 100, stream: out.stream, now: out.now });
    out.clock.ms += 500;
    bar.update(42);
    bar.done("stopped early");
    bar.done();
    equal(
      out.text(),
      " 42% 42/100 elapsed 0:01 eta 0:01 84.0 it/s\n" +
        " 42% 42/100 elapsed 0:01 eta 0:01 84.0 it/s stopped early\n",
    );
  });

  await t.step("after an unprinted partial run", () => {
    const out = fakeOutput(false);
    const bar = new Progress({ total: 100, stream: out.stream, now: out.now });
    out.clock.ms += 500;
    bar.update(5);
    equal(out.text(), "");
    bar.done();
    equal(out.text(), "  5% 5/100 elapsed 0:01 eta 0:10 10.0 it/s\n");
  });

  await t.step("after the final step was printed", () => {
    const out = fakeOutput(false);
    const bar = new Progress({ total: 4, stream: out.stream, now: out.now });
    out.clock.ms += 2000;
    bar.update(4);
    bar.done();
    equal(out.text(), "100% 4/4 elapsed 0:02 eta 0:00 2.00 it/s\n");
  });
});

Deno.test("Progress shows slow rates as seconds per step", () => {
  const out = fakeOutput(false);
  const bar = new Progress({ total: 2, stream: out.stream, now: out.now });
  out.clock.ms += 8000;
  bar.update(2);
  match(out.text(), / 4\.00 s\/it\n$/);
});

Deno.test("Progress shows unknown ETA at start", () => {
  const out = fakeOutput(true);
  const bar = new Progress({ total: 5, stream: out.stream, now: out.now, columns: 200 });
  bar.update(0);
  equal(out.text(), "\r[....................]   0% 0/5 elapsed 0:00 eta ? ? it/s\x1b[K");
});

Deno.test("Progress replaces line breaks in the note", () => {
  const out = fakeOutput(false);
  const bar = new Progress({ total: 1, stream: out.stream, now: out.now });
  out.clock.ms += 1000;
  bar.update(1, "loss 0.1\nacc 0.9");
  equal(out.text(), "100% 1/1 elapsed 0:01 eta 0:00 1.00 it/s loss 0.1 acc 0.9\n");
});

Deno.test("Progress rejects invalid arguments", async (t) => {
  const out = fakeOutput(false);
  await t.step("zero total", () => {
    throws(() => new Progress({ total: 0, stream: out.stream }), {
      name: "RangeError",
      message: "Progress: invalid total 0, expected a positive number",
    });
  });
  await t.step("negative count", () => {
    const bar = new Progress({ total: 3, label: "eval", stream: out.stream });
    throws(() => bar.update(-1), {
      name: "RangeError",
      message: 'Progress "eval": invalid count -1, expected >= 0',
    });
  });
  await t.step("update after done", () => {
    const bar = new Progress({ total: 3, label: "eval", stream: out.stream });
    bar.done();
    throws(() => bar.update(1), { message: 'Progress "eval": update() after done()' });
  });
});

Deno.test("Progress with initial steps counts them in the percent but not in the rate", () => {
  const out = fakeOutput(false);
  // A run resumed after 7 of 10 epochs of 100 steps.
  const bar = new Progress({ total: 1000, initial: 700, stream: out.stream, now: out.now });
  for (let step = 701; step <= 1000; step++) {
    out.clock.ms += 4;
    bar.update(step);
  }
  bar.done();
  const lines = out.text().split("\n").filter((line) => line !== "");
  // The first line comes at the next 10%, not after the first step.
  equal(lines[0], " 80% 800/1000 elapsed 0:00 eta 0:01 250 it/s");
  equal(lines[lines.length - 1], "100% 1000/1000 elapsed 0:01 eta 0:00 250 it/s");
  throws(() => new Progress({ total: 10, initial: -1 }), /invalid initial count -1/);
});
