import { useState, type ReactNode } from 'react';
import { NavLink, Link } from 'react-router-dom';
import { useMutation, useSubscription } from 'urql';
import { graphql } from '../generated';
import { hasRole, useSession } from '../lib/session';
import { applyTheme, initialTheme, type Theme } from '../lib/theme';

const LogoutDocument = graphql(`mutation Logout { logout }`);

const NotificationCountDocument = graphql(`
  subscription NotificationCount { notificationsChanged(first: 5) { unreadCount newest { id message read createdAt } } }
`);

export function Layout({ children }: { children: ReactNode }) {
  const { me, restart } = useSession();
  const [, logout] = useMutation(LogoutDocument);
  const [theme, setTheme] = useState<Theme>(initialTheme());
  const [{ data: notifications }] = useSubscription({ query: NotificationCountDocument });
  const unread = notifications?.notificationsChanged.unreadCount ?? 0;
  const toggleTheme = () => {
    const next = theme === 'dark' ? 'light' : 'dark';
    applyTheme(next);
    setTheme(next);
  };
  const links: [string, string, boolean][] = [
    ['/', 'Dashboard', true],
    ['/heatmap', 'ATT&CK heatmap', true],
    ['/test-cases', 'Test cases', true],
    ['/campaigns', 'Campaigns', true],
    ['/threat-actors', 'Threat actors', true],
    ['/catalog', 'Rules and templates', true],
    ['/compliance', 'Compliance', true],
    ['/reports', 'Reports', hasRole(me)],
    ['/audit', 'Audit log', hasRole(me)],
    ['/admin/users', 'Users', hasRole(me)],
    ['/admin', 'Administration', hasRole(me)],
  ];
  return (
    <div className="flex min-h-screen">
      <nav aria-label="Main" className="w-52 shrink-0 border-r border-slate-200 bg-white p-3 dark:border-slate-800 dark:bg-slate-900">
        <Link to="/" className="mb-4 flex items-center gap-2 px-2 text-lg font-bold">
          <img src="/favicon.svg" alt="" className="h-6 w-6" /> Aegis
        </Link>
        <ul className="space-y-1">
          {links.filter(([, , visible]) => visible).map(([to, label]) => (
            <li key={to}>
              <NavLink
                to={to}
                end={to === '/' || to === '/admin'}
                className={({ isActive }) =>
                  `block rounded-md px-2 py-1.5 text-sm ${isActive ? 'bg-violet-100 font-semibold text-violet-900 dark:bg-violet-900 dark:text-violet-100' : 'hover:bg-slate-100 dark:hover:bg-slate-800'}`
                }
              >
                {label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <div className="flex min-w-0 flex-1 flex-col">
        <header className="flex items-center justify-end gap-3 border-b border-slate-200 bg-white px-4 py-2 dark:border-slate-800 dark:bg-slate-900">
          <Link to="/notifications" className="btn" aria-label={`Notifications, ${unread} unread`}>
            <svg aria-hidden viewBox="0 0 24 24" className="h-4 w-4 fill-none stroke-current stroke-2"><path d="M6 8a6 6 0 1 1 12 0c0 7 3 9 3 9H3s3-2 3-9M10.3 21a1.94 1.94 0 0 0 3.4 0" /></svg>
            <span data-testid="unread-count" className={unread ? 'rounded-full bg-red-600 px-1.5 text-xs text-white' : 'text-xs'}>{unread}</span>
          </Link>
          <button className="btn" onClick={toggleTheme} aria-label={`${theme === 'dark' ? 'Light theme' : 'Dark theme'}: switch between dark and light theme`}>
            {theme === 'dark' ? 'Light theme' : 'Dark theme'}
          </button>
          <Link to="/profile" className="text-sm link">{me.displayName} ({me.email})</Link>
          <button className="btn" onClick={async () => { await logout({}); restart(); }}>Sign out</button>
        </header>
        <main className="min-w-0 flex-1 p-4">{children}</main>
      </div>
    </div>
  );
}
