import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";
import { crc32 } from "../zip.ts";
import { encodePng, tileGrid } from "./image.ts";

Deno.test("encodePng() writes a grayscale PNG whose data inflates to the pixels", () => {
  const pixels = Uint8Array.of(0, 64, 128, 255, 10, 20);
  const png = encodePng({ width: 3, height: 2, pixels });
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);

  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  // IHDR: length 13, then width 3, height 2, depth 8, gray, and a CRC over type and data.
  assert.equal(view.getUint32(8), 13);
  assert.equal(new TextDecoder().decode(png.subarray(12, 16)), "IHDR");
  assert.equal(view.getUint32(16), 3);
  assert.equal(view.getUint32(20), 2);
  assert.deepEqual([...png.subarray(24, 29)], [8, 0, 0, 0, 0]);
  assert.equal(view.getUint32(29), crc32(png.subarray(12, 29)));

  const idatLength = view.getUint32(33);
  assert.equal(new TextDecoder().decode(png.subarray(37, 41)), "IDAT");
  const raw = new Uint8Array(inflateSync(png.subarray(41, 41 + idatLength)));
  assert.deepEqual([...raw], [0, 0, 64, 128, 0, 255, 10, 20]);
  assert.equal(new TextDecoder().decode(png.subarray(png.length - 8, png.length - 4)), "IEND");
});

Deno.test("encodePng() rejects pixels of the wrong length", () => {
  assert.throws(() => encodePng({ width: 2, height: 2, pixels: new Uint8Array(3) }), {
    name: "TypeError",
    message: "encodePng: pixels has 3 bytes, expected 2×2 = 4",
  });
});

Deno.test("tileGrid() scales tiles, clips values and leaves gaps", () => {
  const tile = { width: 2, height: 1, values: [0, 2] };
  const image = tileGrid([[tile, null]], { scale: 2, gap: 1, background: 100 });
  // One row of two 4×2 cells with 1-pixel gaps: width 1 + 2·(4 + 1), height 1 + (2 + 1).
  assert.equal(image.width, 11);
  assert.equal(image.height, 4);
  const row = (y: number) => [...image.pixels.subarray(y * 11, (y + 1) * 11)];
  assert.deepEqual(row(0), new Array(11).fill(100));
  assert.deepEqual(row(1), [100, 0, 0, 255, 255, 100, 100, 100, 100, 100, 100]);
  assert.deepEqual(row(2), row(1));
});

Deno.test("tileGrid() rejects a tile whose values do not fill it", () => {
  assert.throws(() => tileGrid([[{ width: 2, height: 2, values: [1, 2, 3] }]]), {
    name: "TypeError",
    message: "tileGrid: a 2×2 tile has 3 values, expected 4",
  });
});
