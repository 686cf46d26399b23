// The userland NAT's packet codec: decode into a reusable view, rewrite in
// place, keep checksums right incrementally.
export * from './reject-reason';
export * from './ip-protocol';
export * from './packet-view';
export * from './decode-packet';
export * from './internet-checksum';
export * from './incremental-checksum';
export * from './checksum';
export * from './rewrite';
