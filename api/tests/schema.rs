//! `schema.graphql` is the committed contract; this fails when the code drifts from it.
//! `UPDATE_SCHEMA=1 cargo test -p api --test schema` rewrites it.

#[test]
fn schema_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let generated = api::graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &generated).expect("cannot write schema.graphql");
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "schema.graphql is out of date: run `UPDATE_SCHEMA=1 cargo test -p api --test schema` and commit it"
    );
}

/// README's role table is generated from `domain::access`; this fails when the rules change without it.
/// `UPDATE_README=1 cargo test -p api --test schema` rewrites it.
#[test]
fn readme_role_table_matches_the_rules() {
    const START: &str = "<!-- role-table -->\n";
    const END: &str = "<!-- /role-table -->";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md is readable");
    let (before, rest) = readme
        .split_once(START)
        .expect("README.md has the role-table marker");
    let (_, after) = rest
        .split_once(END)
        .expect("README.md closes the role table");
    let table = domain::access::markdown_table();
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(path, format!("{before}{START}{table}{END}{after}"))
            .expect("cannot write README.md");
        return;
    }
    assert!(
        rest.starts_with(&format!("{table}{END}")),
        "README's role table is out of date: run `UPDATE_README=1 cargo test -p api --test schema`"
    );
}
