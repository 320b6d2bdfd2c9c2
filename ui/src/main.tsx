// Bongsu's web UI: header with navigation, language and theme; one page
// per route.
import { render } from 'preact';
import { lang, setLang, t } from './i18n';
import { Alerts } from './pages/Alerts';
import { DashboardList, DashboardView } from './pages/Dashboards';
import { Explore } from './pages/Explore';
import { Incidents } from './pages/Incidents';
import { Rules } from './pages/Rules';
import { Silences } from './pages/Silences';
import { Status } from './pages/Status';
import { Targets } from './pages/Targets';
import { navigate, path } from './router';
import { useSignal } from './state';
import { applyTheme, setTheme, theme, Theme } from './theme';
import './style.css';

const PAGES = [
  { href: '/dashboards', key: 'nav.dashboards', page: DashboardList },
  { href: '/graph', key: 'nav.explore', page: Explore },
  { href: '/targets', key: 'nav.targets', page: Targets },
  { href: '/alerts', key: 'nav.alerts', page: Alerts },
  { href: '/silences', key: 'nav.silences', page: Silences },
  { href: '/incidents', key: 'nav.incidents', page: Incidents },
  { href: '/rules', key: 'nav.rules', page: Rules },
  { href: '/status', key: 'nav.status', page: Status },
] as const;

function App() {
  const current = useSignal(path);
  const th = useSignal(theme);
  useSignal(lang);
  const pathname = current.split('?')[0];
  const dashUid = pathname.startsWith('/d/') ? decodeURIComponent(pathname.slice(3).split('/')[0]) : null;
  const active = dashUid ? PAGES[0] : PAGES.find((p) => pathname === p.href || pathname.startsWith(p.href + '/')) ?? PAGES[1];
  const Page = active.page;
  return (
    <>
      <header>
        <a class="brand" href="/dashboards" onClick={(e) => (e.preventDefault(), navigate('/dashboards'))}>
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
      <main>{dashUid ? <DashboardView uid={dashUid} key={pathname} /> : <Page key={pathname} />}</main>
    </>
  );
}

applyTheme(theme.get());
document.documentElement.lang = lang.get();
// A newcomer lands on the host dashboard.
if (location.pathname === '/' || location.pathname === '') history.replaceState(null, '', '/d/bongsu-host');
path.set(location.pathname + location.search);
render(<App />, document.getElementById('app')!);
