/**
 * Dense mapping between external item ids (strings on the wire) and the row
 * index a model uses. Append-only: an id keeps its index for the life of a model,
 * so indices can be shipped with weights and new items only ever extend the table.
 */
export class ItemIndex {
  private readonly byId = new Map<string, number>();
  readonly ids: string[] = [];

  static fromIds(ids: Iterable<string>): ItemIndex {
    const index = new ItemIndex();
    for (const id of ids) index.add(id);
    return index;
  }

  get size(): number {
    return this.ids.length;
  }

  /** Index of `id`, or -1 when the id is unknown. */
  get(id: string): number {
    return this.byId.get(id) ?? -1;
  }

  /** Index of `id`, adding it at the end when new. */
  add(id: string): number {
    let idx = this.byId.get(id);
    if (idx === undefined) {
      idx = this.ids.length;
      this.byId.set(id, idx);
      this.ids.push(id);
    }
    return idx;
  }

  idOf(index: number): string {
    const id = this.ids[index];
    if (id === undefined) throw new RangeError(`item index ${index} out of range [0, ${this.ids.length})`);
    return id;
  }
}
