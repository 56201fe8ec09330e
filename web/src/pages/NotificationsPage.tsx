import { useState } from 'react';
import { Link } from 'react-router-dom';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../generated';
import { Empty, ErrorBox, Loading, PageTitle, Pager } from '../components/ui';
import { formatTime } from '../lib/format';

const NotificationsDocument = graphql(`
  query MyNotifications($unreadOnly: Boolean, $first: Int, $after: String) {
    myNotifications(unreadOnly: $unreadOnly, first: $first, after: $after) {
      nodes { id kind subjectKind subjectId subjectTitle message actorName createdAt read }
      pageInfo { hasNextPage endCursor }
    }
  }
`);
const MarkReadDocument = graphql(`
  mutation MarkNotificationsRead($ids: [UUID!], $all: Boolean) { markNotificationsRead(ids: $ids, all: $all) { marked } }
`);

const PAGE_SIZE = 25;

export function NotificationsPage() {
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [{ data, error, fetching }, refetch] = useQuery({ query: NotificationsDocument, variables: { unreadOnly, first: PAGE_SIZE, after: cursors[cursors.length - 1] } });
  const [marked, markRead] = useMutation(MarkReadDocument);
  const mark = async (variables: { ids?: string[]; all?: boolean }) => {
    await markRead(variables);
    refetch({ requestPolicy: 'network-only' });
  };
  const nodes = data?.myNotifications.nodes ?? [];
  return (
    <div>
      <PageTitle actions={<>
        <label className="flex items-center gap-1 text-sm"><input type="checkbox" checked={unreadOnly} onChange={(e) => { setUnreadOnly(e.target.checked); setCursors([null]); }} /> Unread only</label>
        <button className="btn" onClick={() => mark({ all: true })}>Mark all read</button>
      </>}>Notifications</PageTitle>
      <ErrorBox error={error ?? marked.error} />
      {fetching && !data && <Loading what="notifications" />}
      {data && nodes.length === 0 && <Empty>No notifications.</Empty>}
      <ul className="space-y-2">{nodes.map((notification) => (
        <li key={notification.id} className={`card flex items-start justify-between gap-2 ${notification.read ? 'opacity-70' : 'border-l-4 border-l-violet-500'}`}>
          <div className="text-sm">
            <div className="text-xs text-slate-500">{formatTime(notification.createdAt)} · {notification.actorName ?? 'Aegis'}</div>
            {notification.subjectKind === 'TEST_CASE' ? <Link className="link" to={`/test-cases/${notification.subjectId}`}>{notification.message}</Link> : notification.message}
          </div>
          {!notification.read && <button className="btn" onClick={() => mark({ ids: [notification.id] })}>Mark read</button>}
        </li>
      ))}</ul>
      {data && <Pager cursors={cursors} endCursor={data.myNotifications.pageInfo.endCursor} hasNextPage={data.myNotifications.pageInfo.hasNextPage} onChange={setCursors} />}
    </div>
  );
}
