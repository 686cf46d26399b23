/** Plugins that ship with algd (plugins/ftp, plugins/sip, plugins/rtsp). */
export const BUILTIN_PLUGINS = ['ftp', 'rtsp', 'sip'] as const;
