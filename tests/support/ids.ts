/** The ids of `rows`, in ascending numeric order: what a test compares a scope's rows with. */
export const ids = (rows: readonly { id: number }[]): number[] => rows.map((row) => row.id).sort((a, b) => a - b);
