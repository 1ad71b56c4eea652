import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ResvgRenderOptions } from '@resvg/resvg-js';

/** The family every chart spec names; the files below provide it. */
export const CHART_FONT_FAMILY = 'DejaVu Sans';

/** Regular for labels, bold for titles (Vega's default title weight). */
const FONT_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'];

export type ChartFonts = NonNullable<ResvgRenderOptions['font']>;

let cached: ChartFonts | undefined;

/**
 * The fonts resvg draws chart text with. DejaVu Sans comes from the dejavu-fonts-ttf npm package
 * (TrueType, which resvg reads; the fontsource packages ship only WOFF/WOFF2, which it does not),
 * so a PNG looks the same on a CI machine without any system fonts, and system fonts are not
 * scanned at all. Only if that package is missing do we fall back to the system's fonts.
 */
export function chartFonts(): ChartFonts {
  cached ??= resolveChartFonts();
  return cached;
}

function resolveChartFonts(): ChartFonts {
  const files = bundledFontFiles();
  if (files.length === FONT_FILES.length) return { loadSystemFonts: false, fontFiles: files, defaultFontFamily: CHART_FONT_FAMILY, sansSerifFamily: CHART_FONT_FAMILY };
  return { loadSystemFonts: true };
}

/** Paths of the bundled TrueType files that exist (none when the package is not installed). */
export function bundledFontFiles(): string[] {
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  } catch {
    return [];
  }
  return FONT_FILES.map((f) => join(dir, f)).filter((p) => existsSync(p));
}
