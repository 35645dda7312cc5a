/**
 * Grayscale pictures for reports: a grid of tiles (such as feature maps) encoded as PNG.
 *
 * @module
 */

import { deflateSync } from "node:zlib";
import { crc32 } from "../zip.ts";

/** An 8-bit grayscale image, row-major, 0 black and 255 white. */
export interface GrayImage {
  width: number;
  height: number;
  /** `width · height` bytes. */
  pixels: Uint8Array;
}

/** One tile of {@linkcode tileGrid}: `height × width` values in `[0, 1]`, row-major. */
export interface GrayTile {
  width: number;
  height: number;
  /** Intensities, 0 black and 1 white; values outside `[0, 1]` are clipped. */
  values: ArrayLike<number>;
}

/** Options of {@linkcode tileGrid}. */
export interface TileGridOptions {
  /** Each tile pixel becomes a `scale × scale` block, default 4. */
  scale?: number;
  /** Pixels between tiles and around the grid, default 2. */
  gap?: number;
  /** Gray level of the gaps and empty cells, 0 to 255, default 255 (white). */
  background?: number;
}

/**
 * Lay out tiles in rows, enlarged `scale` times with nearest-neighbor sampling, `gap` pixels
 * apart. Every cell is as large as the largest tile. A `null` cell stays empty.
 *
 * @throws {RangeError} when the grid is empty, `scale` is not a positive integer, or `gap` or
 *   `background` is out of range
 * @throws {TypeError} when a tile's `values` length is not `width · height`
 */
export function tileGrid(
  rows: readonly (readonly (GrayTile | null)[])[],
  options: TileGridOptions = {},
): GrayImage {
  const { scale = 4, gap = 2, background = 255 } = options;
  if (!Number.isInteger(scale) || scale < 1) {
    throw new RangeError(`tileGrid: scale must be a positive integer, got ${scale}`);
  }
  if (!Number.isInteger(gap) || gap < 0) {
    throw new RangeError(`tileGrid: gap must be an integer >= 0, got ${gap}`);
  }
  if (!Number.isInteger(background) || background < 0 || background > 255) {
    throw new RangeError(
      `tileGrid: background must be an integer from 0 to 255, got ${background}`,
    );
  }
  const tiles = rows.flat().filter((tile): tile is GrayTile => tile !== null);
  const columns = Math.max(0, ...rows.map((row) => row.length));
  if (tiles.length === 0 || columns === 0) {
    throw new RangeError("tileGrid: the grid has no tiles");
  }
  for (const tile of tiles) {
    if (tile.values.length !== tile.width * tile.height) {
      throw new TypeError(
        `tileGrid: a ${tile.width}×${tile.height} tile has ${tile.values.length} values, ` +
          `expected ${tile.width * tile.height}`,
      );
    }
  }

  const cellWidth = Math.max(...tiles.map((t) => t.width)) * scale;
  const cellHeight = Math.max(...tiles.map((t) => t.height)) * scale;
  const width = gap + columns * (cellWidth + gap);
  const height = gap + rows.length * (cellHeight + gap);
  const pixels = new Uint8Array(width * height).fill(background);

  for (const [r, row] of rows.entries()) {
    for (const [c, tile] of row.entries()) {
      if (tile === null) continue;
      const left = gap + c * (cellWidth + gap), top = gap + r * (cellHeight + gap);
      for (let y = 0; y < tile.height * scale; y++) {
        for (let x = 0; x < tile.width * scale; x++) {
          const v = tile.values[Math.floor(y / scale) * tile.width + Math.floor(x / scale)];
          pixels[(top + y) * width + left + x] = Math.round(255 * Math.min(1, Math.max(0, v)));
        }
      }
    }
  }
  return { width, height, pixels };
}

/**
 * Encode a grayscale image as a PNG file: 8-bit gray (color type 0), no interlacing, every
 * row with filter type 0, compressed with zlib's deflate.
 *
 * @throws {RangeError} when a dimension is not a positive integer
 * @throws {TypeError} when `pixels` does not have `width · height` bytes
 */
export function encodePng(image: GrayImage): Uint8Array {
  const { width, height, pixels } = image;
  for (const [name, value] of [["width", width], ["height", height]] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 0x7fffffff) {
      throw new RangeError(`encodePng: ${name} must be a positive integer, got ${value}`);
    }
  }
  if (pixels.length !== width * height) {
    throw new TypeError(
      `encodePng: pixels has ${pixels.length} bytes, expected ${width}×${height} = ${
        width * height
      }`,
    );
  }

  // Image header: size, bit depth 8, color type 0 (gray), deflate, filters of method 0, no
  // interlace.
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 0, 0, 0, 0], 8);

  // Each scanline starts with its filter type byte, 0 (none).
  const raw = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y++) {
    raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }

  const signature = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
  return concat([
    signature,
    chunk("IHDR", header),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

/** Return one PNG chunk: length, type, data and the CRC-32 of type and data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
