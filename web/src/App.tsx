import { useMemo, useState } from 'react';
import { Provider, useQuery } from 'urql';
import { Navigate, Route, Routes } from 'react-router-dom';
import { createClient } from './lib/client';
import { MeDocument } from './lib/queries';
import { SessionContext } from './lib/session';
import { errorCode } from './lib/errors';
import { ErrorBox, Loading } from './components/ui';
import { Layout } from './components/Layout';
import { SignIn } from './pages/SignIn';
import { ChangePassword } from './pages/ChangePassword';
import { Dashboard } from './pages/Dashboard';
import { HeatmapPage } from './pages/HeatmapPage';
import { TestCasesPage } from './pages/TestCasesPage';
import { TestCasePage } from './pages/TestCasePage';
import { PlanTestCasePage } from './pages/PlanTestCasePage';
import { ProfilePage } from './pages/ProfilePage';
import { UsersPage } from './pages/UsersPage';
import { AuditPage } from './pages/AuditPage';
import { NotificationsPage } from './pages/NotificationsPage';

export function App() {
  const [generation, setGeneration] = useState(0);
  const client = useMemo(() => createClient(), [generation]);
  const restart = () => setGeneration((value) => value + 1);
  return (
    <Provider value={client}>
      <Gate restart={restart} />
    </Provider>
  );
}

function Gate({ restart }: { restart: () => void }) {
  const [{ data, error, fetching }] = useQuery({ query: MeDocument, requestPolicy: 'network-only' });
  if (fetching && !data) return <Loading what="your session" />;
  if (errorCode(error) === 'UNAUTHENTICATED' || (!data && !error)) return <SignIn onSignedIn={restart} />;
  if (!data) return <div className="p-6"><ErrorBox error={error} /></div>;
  const me = data.me;
  const session = { me, restart };
  if (me.passwordChangeRequired) {
    return (
      <SessionContext.Provider value={session}>
        <ChangePassword forced />
      </SessionContext.Provider>
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <Layout>
        <Routes>
          <Route path="/" element={me.twoFactorEnrolmentRequired ? <Navigate to="/profile" replace /> : <Dashboard />} />
          <Route path="/heatmap" element={<HeatmapPage />} />
          <Route path="/test-cases" element={<TestCasesPage />} />
          <Route path="/test-cases/new" element={<PlanTestCasePage />} />
          <Route path="/test-cases/:id" element={<TestCasePage />} />
          <Route path="/notifications" element={<NotificationsPage />} />
          <Route path="/profile" element={<ProfilePage />} />
          <Route path="/admin/users" element={<UsersPage />} />
          <Route path="/audit" element={<AuditPage />} />
          <Route path="*" element={<div className="p-4">No page here. <a className="link" href="/">Dashboard</a></div>} />
        </Routes>
      </Layout>
    </SessionContext.Provider>
  );
}
