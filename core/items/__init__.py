"""Items: the materials and products the plant buys, makes and ships."""
