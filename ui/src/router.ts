// Path routing over the History API; the server answers every UI path
// with index.html.
import { signal } from './state';

export const path = signal<string>(location.pathname + location.search);

export function navigate(to: string) {
  history.pushState(null, '', to);
  path.set(location.pathname + location.search);
}

window.addEventListener('popstate', () => path.set(location.pathname + location.search));
