export async function scaleWorkload() { return { title: 'scale', error: 'not written yet', servers: {} }; }
