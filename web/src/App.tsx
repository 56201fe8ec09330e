import { lazy, Suspense, useMemo, useState } from 'react';
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

// Each page is its own chunk, so signing in does not download the charting library or the heatmap.
const Dashboard = lazy(() => import('./pages/Dashboard').then((module) => ({ default: module.Dashboard })));
const HeatmapPage = lazy(() => import('./pages/HeatmapPage').then((module) => ({ default: module.HeatmapPage })));
const TestCasesPage = lazy(() => import('./pages/TestCasesPage').then((module) => ({ default: module.TestCasesPage })));
const TestCasePage = lazy(() => import('./pages/TestCasePage').then((module) => ({ default: module.TestCasePage })));
const PlanTestCasePage = lazy(() => import('./pages/PlanTestCasePage').then((module) => ({ default: module.PlanTestCasePage })));
const ProfilePage = lazy(() => import('./pages/ProfilePage').then((module) => ({ default: module.ProfilePage })));
const UsersPage = lazy(() => import('./pages/UsersPage').then((module) => ({ default: module.UsersPage })));
const AuditPage = lazy(() => import('./pages/AuditPage').then((module) => ({ default: module.AuditPage })));
const CampaignsPage = lazy(() => import('./pages/CampaignsPage').then((module) => ({ default: module.CampaignsPage })));
const CampaignPage = lazy(() => import('./pages/CampaignPage').then((module) => ({ default: module.CampaignPage })));
const ThreatActorsPage = lazy(() => import('./pages/ThreatActorsPage').then((module) => ({ default: module.ThreatActorsPage })));
const ThreatActorPage = lazy(() => import('./pages/ThreatActorsPage').then((module) => ({ default: module.ThreatActorPage })));
const CatalogPage = lazy(() => import('./pages/CatalogPage').then((module) => ({ default: module.CatalogPage })));
const CompliancePage = lazy(() => import('./pages/CompliancePage').then((module) => ({ default: module.CompliancePage })));
const ReportsPage = lazy(() => import('./pages/ReportsPage').then((module) => ({ default: module.ReportsPage })));
const AdminPage = lazy(() => import('./pages/AdminPage').then((module) => ({ default: module.AdminPage })));
const NotificationsPage = lazy(() => import('./pages/NotificationsPage').then((module) => ({ default: module.NotificationsPage })));

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
        <Suspense fallback={<Loading what="the page" />}>
        <Routes>
          <Route path="/" element={me.twoFactorEnrolmentRequired ? <Navigate to="/profile" replace /> : <Dashboard />} />
          <Route path="/heatmap" element={<HeatmapPage />} />
          <Route path="/test-cases" element={<TestCasesPage />} />
          <Route path="/test-cases/new" element={<PlanTestCasePage />} />
          <Route path="/test-cases/:id" element={<TestCasePage />} />
          <Route path="/campaigns" element={<CampaignsPage />} />
          <Route path="/campaigns/:id" element={<CampaignPage />} />
          <Route path="/threat-actors" element={<ThreatActorsPage />} />
          <Route path="/threat-actors/:id" element={<ThreatActorPage />} />
          <Route path="/catalog" element={<CatalogPage />} />
          <Route path="/compliance" element={<CompliancePage />} />
          <Route path="/reports" element={<ReportsPage />} />
          <Route path="/admin" element={<AdminPage />} />
          <Route path="/notifications" element={<NotificationsPage />} />
          <Route path="/profile" element={<ProfilePage />} />
          <Route path="/admin/users" element={<UsersPage />} />
          <Route path="/audit" element={<AuditPage />} />
          <Route path="*" element={<div className="p-4">No page here. <a className="link" href="/">Dashboard</a></div>} />
        </Routes>
        </Suspense>
      </Layout>
    </SessionContext.Provider>
  );
}
