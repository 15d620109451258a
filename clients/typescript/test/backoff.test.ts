import { describe, expect, it } from "vitest";

import { backoffCeiling, backoffDelay } from "../src/backoff.js";

describe("backoffDelay", () => {
  it("doubles the ceiling per attempt and never exceeds the cap", () => {
    const ceilings = Array.from({ length: 10 }, (_, attempt) => backoffCeiling(attempt, { baseMs: 500, capMs: 30_000 }));
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
    expect(backoffCeiling(10_000)).toBe(30_000); // no overflow after a very long outage
  });

  it("is uniformly spread between zero and the ceiling (full jitter)", () => {
    expect(backoffDelay(3, { random: () => 0 })).toBe(0);
    expect(backoffDelay(3, { random: () => 0.5 })).toBe(2000);
    expect(backoffDelay(3, { random: () => 1 - 1e-12 })).toBe(3999);
    expect(backoffDelay(50, { random: () => 1 - 1e-12 })).toBe(29_999);
  });

  it("spreads many clients over the whole window instead of bunching them", () => {
    // A deterministic sequence standing in for Math.random.
    let x = 42;
    const random = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const delays = Array.from({ length: 1000 }, () => backoffDelay(4, { random }));
    expect(Math.min(...delays)).toBeLessThan(800);
    expect(Math.max(...delays)).toBeGreaterThan(7200);
    expect(new Set(delays.map((d) => Math.floor(d / 800))).size).toBe(10); // all ten bands of the 0–8 s window are used
  });

  it("clamps a misbehaving random source into range", () => {
    expect(backoffDelay(0, { random: () => -3 })).toBe(0);
    expect(backoffDelay(0, { random: () => 7 })).toBe(500);
  });
});
