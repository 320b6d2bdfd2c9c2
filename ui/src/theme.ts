// Dark and light themes: the choice lives on <html data-theme>, in
// localStorage, and in this signal (charts redraw with the theme's colours).
import { signal } from './state';

export type Theme = 'dark' | 'light';

export const theme = signal<Theme>(
  (localStorage.getItem('bongsu.theme') as Theme) ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'),
);

export function applyTheme(th: Theme) {
  document.documentElement.dataset.theme = th;
}

export function setTheme(th: Theme) {
  localStorage.setItem('bongsu.theme', th);
  applyTheme(th);
  theme.set(th);
}

/** The value of a CSS custom property of the current theme (canvas drawing
 *  cannot read `var(--x)` itself). */
export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
