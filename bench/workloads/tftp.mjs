export async function tftpWorkload() { return { title: 'tftp', error: 'not written yet', servers: {} }; }
