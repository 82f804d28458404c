/**
 * The ten Fashion-MNIST classes (index = label in the dataset) and the words that name them.
 * Synonyms are written in singular; the parser also accepts plurals and any letter case.
 * Multi-word synonyms beat the single words inside them ("t-shirt" is class 0, not "shirt").
 */
export interface FashionClass {
  index: number;
  name: string;
  synonyms: string[];
}

export const FASHION_CLASSES: readonly FashionClass[] = [
  {
    index: 0,
    name: 'T-shirt/top',
    synonyms: ['t-shirt', 'tshirt', 'tee', 'tee shirt', 'top', 'tank top', 'tank', 'camisole'],
  },
  { index: 1, name: 'Trouser', synonyms: ['trouser', 'pant', 'jean', 'slack', 'chino', 'legging', 'jogger'] },
  {
    index: 2,
    name: 'Pullover',
    synonyms: ['pullover', 'sweater', 'jumper', 'hoodie', 'sweatshirt', 'cardigan', 'knitwear'],
  },
  { index: 3, name: 'Dress', synonyms: ['dress', 'gown', 'frock', 'sundress'] },
  {
    index: 4,
    name: 'Coat',
    synonyms: ['coat', 'jacket', 'parka', 'overcoat', 'raincoat', 'anorak', 'blazer', 'trench coat', 'windbreaker'],
  },
  { index: 5, name: 'Sandal', synonyms: ['sandal', 'flip-flop', 'flipflop', 'slide'] },
  { index: 6, name: 'Shirt', synonyms: ['shirt', 'blouse', 'button-down', 'button-up', 'polo shirt', 'dress shirt'] },
  {
    index: 7,
    name: 'Sneaker',
    synonyms: ['sneaker', 'trainer', 'running shoe', 'running trainer', 'tennis shoe', 'sports shoe', 'kick'],
  },
  { index: 8, name: 'Bag', synonyms: ['bag', 'handbag', 'purse', 'backpack', 'tote', 'satchel', 'clutch'] },
  { index: 9, name: 'Ankle boot', synonyms: ['ankle boot', 'boot', 'bootie', 'chelsea boot'] },
];

export const FASHION_LABELS: readonly string[] = FASHION_CLASSES.map((c) => c.name);
