/// The evidence upload's browser half: hash, PUT to the presigned URL with progress, nothing else.

/// Hex SHA-256 of the file, as `requestEvidenceUpload` wants it. Web Crypto needs a secure context
/// (https, or http on localhost/127.0.0.1).
export async function sha256Hex(file: Blob): Promise<string> {
  if (!crypto.subtle) throw new Error('This page is not a secure context (https), so the browser cannot hash files.');
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/// The content type the server's allow-list knows for a file name, when the browser did not say.
export function contentTypeOf(file: File): string {
  if (file.type) return file.type;
  const extension = file.name.split('.').pop()?.toLowerCase() ?? '';
  const byExtension: Record<string, string> = {
    log: 'text/plain', txt: 'text/plain', csv: 'text/csv', json: 'application/json', xml: 'application/xml',
    pcap: 'application/vnd.tcpdump.pcap', pcapng: 'application/x-pcapng', evtx: 'application/octet-stream',
    png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', pdf: 'application/pdf', zip: 'application/zip',
  };
  return byExtension[extension] ?? 'application/octet-stream';
}

/// PUTs the file with XMLHttpRequest, the one browser API that reports upload progress.
export function putWithProgress(url: string, file: Blob, onProgress: (fraction: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('PUT', url);
    request.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    request.onload = () => (request.status >= 200 && request.status < 300 ? resolve() : reject(new Error(`the storage refused the upload (HTTP ${request.status}): ${request.responseText.slice(0, 300)}`)));
    request.onerror = () => reject(new Error('the upload could not reach the storage'));
    request.send(file);
  });
}
