import { graphql } from '../generated';

export const MeDocument = graphql(`
  query Me {
    me { id email displayName roles twoFactorEnabled passwordChangeRequired twoFactorEnrolmentRequired readOnly }
  }
`);

export const UsersDocument = graphql(`
  query Users($first: Int, $after: String) {
    users(first: $first, after: $after) {
      nodes { id email displayName roles active twoFactorEnabled createdAt }
      pageInfo { hasNextPage endCursor }
    }
  }
`);
