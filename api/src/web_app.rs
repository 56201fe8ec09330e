//! The built web dashboard (`web/dist`, see `web/README.md`) at `/`.
//!
//! Vite names every file under `assets/` after a hash of its content, so those are cached for a year and
//! never revalidated; a missing one is a 404 (an old page asking for a replaced chunk must fail loudly, not
//! get HTML). Every other path the API does not own is a client-side route of the single-page app and gets
//! `index.html`, revalidated on each load so a new build is picked up at once. The edge's strict CSP applies
//! unchanged: the build has no inline script or style and loads nothing from elsewhere.

use std::path::Path;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::middleware::map_response;
use axum::response::Response;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

const HASHED_ASSETS: &str = "/assets";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";
const NOT_STORED: &str = "no-store";

/// The dashboard's routes: `/assets/…` and the fallback for every path no other route matches.
pub fn routes<S: Clone + Send + Sync + 'static>(dir: &Path) -> Router<S> {
    if !dir.join("index.html").is_file() {
        tracing::warn!(
            dir = %dir.display(),
            "no web dashboard to serve: build it with `npm run build` in web/ (deploy/dev/run does)"
        );
    }
    let assets = ServeDir::new(dir.join("assets"));
    let pages = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    Router::new()
        .nest_service(HASHED_ASSETS, assets)
        .layer(map_response(cache_found_assets_for_good))
        .fallback_service(pages)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static(REVALIDATE),
        ))
}

/// A missing asset is not cached at all: the next deployment may bring it.
async fn cache_found_assets_for_good(mut response: Response) -> Response {
    let policy = if response.status().is_success() {
        IMMUTABLE
    } else {
        NOT_STORED
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    response
}
