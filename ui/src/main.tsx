// Bongsu's web UI: header with navigation, language and theme; one page
// per route.
import { render } from 'preact';
import { lang, setLang, t } from './i18n';
import { Alerts } from './pages/Alerts';
import { Explore } from './pages/Explore';
import { Rules } from './pages/Rules';
import { Silences } from './pages/Silences';
import { Status } from './pages/Status';
import { Targets } from './pages/Targets';
import { navigate, path } from './router';
import { useSignal } from './state';
import { applyTheme, setTheme, theme, Theme } from './theme';
import './style.css';

const PAGES = [
  { href: '/graph', key: 'nav.explore', page: Explore },
  { href: '/targets', key: 'nav.targets', page: Targets },
  { href: '/alerts', key: 'nav.alerts', page: Alerts },
  { href: '/silences', key: 'nav.silences', page: Silences },
  { href: '/rules', key: 'nav.rules', page: Rules },
  { href: '/status', key: 'nav.status', page: Status },
] as const;

function App() {
  const current = useSignal(path);
  const th = useSignal(theme);
  useSignal(lang);
  const pathname = current.split('?')[0];
  const active = PAGES.find((p) => pathname === p.href || pathname.startsWith(p.href + '/')) ?? PAGES[0];
  const Page = active.page;
  return (
    <>
      <header>
        <a class="brand" href="/graph" onClick={(e) => (e.preventDefault(), navigate('/graph'))}>
          봉수 Bongsu
        </a>
        <nav>
          {PAGES.map((p) => (
            <a
              href={p.href}
              class={p === active ? 'active' : ''}
              aria-current={p === active ? 'page' : undefined}
              onClick={(e) => {
                if (e.ctrlKey || e.metaKey || e.shiftKey) return;
                e.preventDefault();
                navigate(p.href);
              }}
            >
              {t(p.key)}
            </a>
          ))}
        </nav>
        <div class="header-tools">
          <button
            data-testid="theme"
            onClick={() => setTheme((th === 'dark' ? 'light' : 'dark') as Theme)}
          >
            {th === 'dark' ? t('theme.light') : t('theme.dark')}
          </button>
          <button data-testid="lang" onClick={() => setLang(lang.get() === 'en' ? 'ko' : 'en')}>
            {t('lang.switch')}
          </button>
        </div>
      </header>
      <main>
        <Page key={pathname} />
      </main>
    </>
  );
}

applyTheme(theme.get());
document.documentElement.lang = lang.get();
if (location.pathname === '/' || location.pathname === '') history.replaceState(null, '', '/graph');
path.set(location.pathname + location.search);
render(<App />, document.getElementById('app')!);
